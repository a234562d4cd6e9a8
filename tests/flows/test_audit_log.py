"""/nhatky reads like a log a person wrote: every action the code audits, done as its user does
it, comes out in words (names, villages, services, values, report numbers), never an internal
code such as ``unit:6``, ``report:56``, ``member_undo`` or ``2026-Q4``."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from support import peek
from support.helpers import ChatUser

from bot.flows.engine import Engine
from bot.services.demo import Demo
from storage import Database

BOT = Path(__file__).resolve().parents[2] / "bot"
# What no log line may show: an object code, a period key, a service code, a template's braces.
INTERNAL = re.compile(r"\b(?:unit|member|report|invite|announcement|custom_deadline|period|village|campaign):"
                      r"|\b\d{4}-(?:\d\d|Q\d|H\d|W\d\d)\b|\b(?:vneid|chu_ky_so|thanh_toan|dich_vu_cong|so_suc_khoe"
                      r"|ky_nang_so|none|proxy|member_undo|on_time|cd-s\d+)\b|[{}]")


def _literals(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _literals(node.body) | _literals(node.orelse)
    return set()


def audited_actions() -> set[str]:
    """Every action an ``audit.add(...)`` call of bot/ writes: a literal, either branch of
    ``a if c else b``, or a parameter of the enclosing function, filled by its callers."""
    found: set[str] = set()
    for path in BOT.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        functions = {f.name: f for f in ast.walk(tree) if isinstance(f, ast.AsyncFunctionDef | ast.FunctionDef)}
        for function in functions.values():
            for call in ast.walk(function):
                if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                        and call.func.attr == "add" and isinstance(call.func.value, ast.Attribute)
                        and call.func.value.attr == "audit"):
                    continue
                action = call.args[1]
                values = _literals(action)
                if isinstance(action, ast.Name):  # a parameter: what every caller in the module passes
                    position = [a.arg for a in function.args.args].index(action.id)
                    for other in ast.walk(tree):
                        if isinstance(other, ast.Call) and isinstance(other.func, ast.Name) \
                                and other.func.id == function.name and len(other.args) > position:
                            values |= _literals(other.args[position])
                assert values, f"{path}:{call.lineno}: cannot tell which action this audit writes"
                found |= values
    return found


def link_code(answer: str) -> str:
    return re.search(r"/lienket (\d{4} \d{4})", answer).group(1)


async def join(engine: Engine, user_id: str, code: str, name: str) -> ChatUser:
    user = ChatUser(engine, user_id, name)
    assert "Chào mừng" in await user.send(f"/start {code}")
    return user


async def test_every_audited_action_reads_in_words(engine: Engine, demo: Demo, db: Database, clock):
    staff = ChatUser(engine, demo.staff_user, channel="terminal")
    leader = await join(engine, "9501", demo.villages[0].leader_code, "Trưởng ấp Tư")  # join
    lan = await join(engine, "9502", demo.villages[0].member_code, "Lan")
    await staff.send("/moi Mỹ Phú")  # invite
    code = (await peek.rows(db, "invites", "code", where="role = 'member'", order="created_at DESC"))[0][0]
    await staff.send(f"/thuhoi {code}")  # invite_revoke
    lan_id = (await peek.rows(db, "members", "id", where="name = 'Lan'"))[0][0]
    await staff.send(f"/vaitro {lan_id} tổ trưởng")  # role
    await staff.send(f"/vaitro {lan_id} thành viên")
    await staff.send(f"/khoa {lan_id}")  # disable
    await staff.send(f"/mokhoa {lan_id}")  # enable
    added = await leader.send("/themtv Mỹ Thạnh Bà Năm")  # member_add
    nam = int(re.search(r"#(\d+)", added).group(1))
    await leader.send(f"/baothay {nam} vneid 2 cks 1")  # proxy_report
    await lan.send("vneid 7")
    report = (await peek.rows(db, "reports", "id", where="count = 7"))[0][0]
    assert "Đã sửa" in await leader.send(f"/suabc {report} 6 gõ nhầm")  # correct
    new_report = (await peek.rows(db, "reports", "id", where="count = 6"))[0][0]
    assert "Đã hủy" in await leader.send(f"/xoabc {new_report} báo trùng")  # void
    await staff.send("/thon them AP-MOI Ấp Mới")  # village_add
    await staff.send("/thon doiten AP-MOI Ấp Mới Lập")  # village_rename
    await staff.send("/thon so AP-MOI 120 300")  # village_figures
    await staff.send("/thon an AP-MOI")  # village_an
    await staff.send("/thon hien AP-MOI")  # village_hien
    assert "Đã đặt" in await staff.send("/chitieu Mỹ Thạnh cks 2026 40%")  # target
    await staff.send('/hanchot them 30/12 "Chiến dịch VNeID"')  # deadline.add
    await staff.send('/hanchot them 29/12 "Đợt bỏ"')
    dropped = (await peek.rows(db, "custom_deadlines", "id", where="name = 'Đợt bỏ'"))[0][0]
    assert "Đã xóa" in await staff.send(f"/hanchot xoa {dropped}")  # deadline.remove
    await staff.send("/nhaclai tháng 11")  # reminder.adhoc
    await staff.send("/thongbao cả xã Họp tổ sáng thứ Hai")
    await staff.tap("📣 Gửi")  # announce
    await leader.send("/chot 10")
    await leader.tap("✅ Đúng, gửi xã")  # period.confirm
    await staff.send("/khoaky 10")  # period.close
    await staff.send("/moky 10")  # period.reopen
    handover = await leader.send(f"/lienket {nam}")
    phone = ChatUser(engine, "9503", "Năm", channel="zalo")
    await phone.send(f"/lienket {link_code(handover)}")  # link
    lan_zalo = ChatUser(engine, "9504", "Lan Zalo", channel="zalo")
    offered = await lan.send("/lienket")
    await lan_zalo.send(f"/lienket {link_code(offered)}")
    await lan.send("/lienket huy")  # unlink
    commune = demo.commune.id
    async with db.uow() as uow:  # what the operator's commands and the scheduler write (bot/cli/admin.py,
        now = clock.now()  # bot/services/cycle.py auto_close), with the same object and detail
        await uow.audit.add(None, "commune_add", f"unit:{commune}", now, {"code": demo.commune.code}, unit_id=commune)
        await uow.audit.add(None, "villages_import", f"unit:{commune}", now,
                            {"added": 2, "updated": 1, "file": "thon.csv"}, unit_id=commune)
        await uow.audit.add(None, "period.close", "period:2026-09", now,
                            {"start": "2026-09-01", "end": "2026-09-30", "auto": True}, unit_id=commune)
        await uow.members.forget(lan_id)
        await uow.audit.add(None, "member_forget", f"member:{lan_id}", now, {"identities": 1}, unit_id=commune)

    written = {r[0] for r in await peek.rows(db, "audit", "action")}
    assert audited_actions() <= written, f"not tried here: {sorted(audited_actions() - written)}"
    log = await staff.send("/nhatky 50")
    lines = [line for line in log.splitlines() if line.startswith("•")]
    assert len(lines) == len(await peek.rows(db, "audit", "id"))
    for line in lines:
        assert not INTERNAL.search(line), line
        assert "một thao tác khác" not in line, line
    assert f"báo thay cho #{nam} Bà Năm (Ấp Mỹ Thạnh): số " in log and "VNeID 2 người" in log
    assert f"sửa báo cáo số {report}: Ấp Mỹ Thạnh, VNeID 7 người" in log and f"báo cáo số {new_report}" in log
    assert "Lý do: báo trùng" in log
    assert "đặt chỉ tiêu Chữ ký số năm 2026 cho Ấp Mỹ Thạnh: 40%" in log
    assert "đổi tên Ấp Mới thành Ấp Mới Lập" in log and "Ấp Mới Lập: 120 hộ, 300 người lớn" in log
    assert "chốt số liệu Ấp Mỹ Thạnh, tháng 10/2026" in log and "khóa sổ tháng 10/2026" in log
    assert "tự khóa sổ tháng 9/2026" in log
    assert "thêm hạn số" in log and "«Chiến dịch VNeID» ngày 30/12/2026" in log
    assert f"xóa hạn số {dropped} «Đợt bỏ» ngày 29/12/2026" in log
    assert f"xóa dữ liệu cá nhân của thành viên #{lan_id}" in log  # a forgotten member: by number only
    assert f"thành viên #{lan_id}: gỡ liên kết Zalo" in log  # also as the one who did it
    assert "liên kết" in log and "Zalo" in log
