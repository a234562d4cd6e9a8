"""The reporting cycle in-process (issue 13): villages confirm (/chot), a change reopens a
confirmed period, staff close and reopen periods (/khoaky, /moky), a closed period refuses
every change dated in it and exports the same figures every time, one period scheme per
commune everywhere. The clock is Sunday 22/11/2026 09:30 (the November deadline, 20/11, passed)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import docx
import pytest
from openpyxl import load_workbook
from support import peek
from support.helpers import TZ, ChatUser

from bot.content import Content
from bot.domain.deadlines import DeadlineConfig, Planner
from bot.domain.messages import plain_text
from bot.domain.periods import month
from bot.flows.engine import Engine
from bot.services import cycle
from bot.services.demo import Demo
from bot.services.reminders import scheduling_pass
from storage import Database
from storage.models import NewReport


async def joined(engine: Engine, demo: Demo, village: int, user_id: str, leader: bool = False,
                 name: str = "Lan") -> ChatUser:
    user = ChatUser(engine, user_id, name)
    code = demo.villages[village].leader_code if leader else demo.villages[village].member_code
    assert "Chào mừng" in await user.send(f"/start {code}")
    return user


def staff(engine: Engine, demo: Demo) -> ChatUser:
    return ChatUser(engine, demo.staff_user, channel="terminal")


async def insert(db: Database, demo: Demo, village: int, day: date, count: int, clock) -> None:
    """A report written straight to storage (a day the chat would refuse as too old)."""
    async with db.uow() as uow:
        member = (await uow.members.in_unit(demo.villages[village].village.id))[0]
        await uow.reports.add_batch(f"x{day.isoformat()}{count}", member.id, demo.villages[village].village.id,
                                    [NewReport("vneid", count)], day, "text", clock.now())


async def test_a_village_confirms_a_late_report_reopens_it_and_it_confirms_again(engine: Engine, demo: Demo,
                                                                                  db: Database):
    lan = await joined(engine, demo, 0, "c101")
    leader = await joined(engine, demo, 0, "c102", leader=True, name="Trưởng ấp")
    await lan.send("vneid 5 cks 2")
    assert "tổ trưởng là người chốt" in await lan.send("/chot 11")  # the village has a leader
    shown = await leader.send("/chot 11")
    assert "Chốt số liệu Ấp Mỹ Thạnh – tháng 11/2026 (01/11–30/11) (hạn 20/11/2026)" in shown
    assert "• VNeID: 5 người" in shown and "• Chữ ký số: 2 người" in shown and "Tổng: 7 người" in shown
    answer = await leader.tap("✅ Đúng, gửi xã")
    assert "Đã chốt số liệu Ấp Mỹ Thạnh – tháng 11/2026" in answer and "Chốt sau hạn 20/11/2026" in answer
    assert "đã chốt lúc 09:30 22/11/2026" in await leader.send("/chot 11")
    tally = await staff(engine, demo).send("/thang")
    assert "✅ Đúng hạn: 0 · ⏰ Trễ hạn: 1 · 📝 Có báo cáo, chưa chốt: 0 · 🔇 Chưa báo cáo: 5" in tally
    assert "⏰ Chốt trễ: Ấp Mỹ Thạnh" in tally

    await lan.send("21/11 vneid 3")  # a late report in the confirmed month: reopened in the same unit of work
    asked = await peek.rows(db, "outbox", "chat_id, payload", where="rule = 'chot'")
    assert [row[0] for row in asked] == ["c102"]  # the leader is asked to confirm again
    assert "vừa thay đổi sau khi đã chốt" in asked[0][1] and "VNeID: <b>8</b>" in asked[0][1]
    assert "📝 Có báo cáo, chưa chốt: 1" in await staff(engine, demo).send("/thang")
    assert "• VNeID: 8" in await leader.send("/chot 11")
    assert "Đã chốt số liệu" in await leader.send("/chot dung 11")
    async with db.uow() as uow:
        history = await uow.cycle.history(demo.villages[0].village.id, "2026-11")
    assert [(c.figures, c.reopened_at is not None) for c in history] == [
        ({"vneid": 5, "chu_ky_so": 2}, True), ({"vneid": 8, "chu_ky_so": 2}, False)]
    assert "chốt số liệu Ấp" in await staff(engine, demo).send("/nhatky")  # audited, in words


async def test_an_explicit_zero_confirms_and_a_village_without_a_leader_confirms_by_any_member(
        engine: Engine, demo: Demo, db: Database):
    phu = await joined(engine, demo, 1, "c201", name="Phú")
    await phu.send("không có")
    shown = await phu.send("/chot quy 4")  # on time: the quarterly deadline is 10/12
    assert "Không hỗ trợ ai" in shown and "Tổng: 0" in shown
    assert "Đã chốt số liệu Ấp Mỹ Phú – quý 4/2026 (01/10–31/12)" in await phu.tap("✅ Đúng, gửi xã")
    answer = await staff(engine, demo).send("/quy")
    assert "✅ Đúng hạn: 1 · ⏰ Trễ hạn: 0" in answer
    assert "[✏️ Sửa]" not in answer
    fix = await phu.send("/chot sua")
    assert "/suabc" in fix and "/gannhat" in fix and "/huy" in fix


async def test_a_closed_period_refuses_reports_voids_and_corrections_and_exports_the_same(
        engine: Engine, demo: Demo, db: Database, clock):
    lan = await joined(engine, demo, 0, "c301")
    leader = await joined(engine, demo, 0, "c302", leader=True, name="Trưởng ấp")
    await lan.send("31/10 vneid 4")
    await lan.send("15/10 cks 1")
    officer = staff(engine, demo)
    assert "chưa kết thúc" in await officer.send("/khoaky 11")  # November is not over
    assert "Lệnh /khoaky dành cho cán bộ xã" in await leader.send("/khoaky 10")
    first = await officer.send("/xuat 10")
    book_before = await xlsx_values(officer)
    assert "Đã khóa sổ tháng 10/2026 (01/10–31/10)" in await officer.send("/khoaky")  # the last month that ended
    assert "đã khóa sổ từ 22/11/2026" in await officer.send("/khoaky 10")

    refusal = await lan.send("30/10 vneid 2")  # backdated into the closed month
    assert "tháng 10/2026 (01/10–31/10) đã khóa sổ" in refusal and "/moky 10/2026" in refusal
    assert "không kèm ngày" in refusal
    assert "Hủy báo cáo này?" in await lan.send("/huy")  # the member's last report, dated in October
    assert "đã khóa sổ" in await lan.send("có")
    report_id = (await peek.rows(db, "reports", "id", where="count = 4"))[0][0]
    assert "đã khóa sổ" in await leader.send(f"/xoabc {report_id} gõ nhầm số")
    assert "đã khóa sổ" in await leader.send(f"/suabc {report_id} 3 gõ nhầm số")
    member_id = (await peek.rows(db, "members", "id", where="name = 'Lan'"))[0][0]
    assert "đã khóa sổ" in await leader.send(f"/baothay {member_id} 20/10 vneid 1")
    assert await peek.live_reports(db, "service, count, occurred_on") == [
        ("vneid", 4, "2026-10-31"), ("chu_ky_so", 1, "2026-10-15")]  # nothing changed
    assert "đã khóa sổ" not in await lan.send("vneid 1")  # today is open

    await officer.send("/xuat 10")
    assert await xlsx_values(officer) == book_before  # the same figures, whatever was attempted meanwhile
    assert first
    audit = await peek.rows(db, "audit", "action", where="action LIKE 'period.%'")
    assert audit == [("period.close",)]
    assert "Đã mở lại tháng 10/2026" in await officer.send("/moky")  # the last one closed
    assert "đang không khóa sổ" in await officer.send("/moky 10")
    assert "Đã hủy báo cáo" in await leader.send(f"/xoabc {report_id} gõ nhầm số")  # open again
    assert [r[0] for r in await peek.rows(db, "audit", "action", where="action LIKE 'period.%'", order="id")] == [
        "period.close", "period.reopen"]


async def xlsx_values(user: ChatUser) -> dict[str, list[tuple]]:
    file = user.last[0].attachment
    assert file is not None
    book = load_workbook(io.BytesIO(file.data))
    return {sheet.title: [row for row in sheet.iter_rows(values_only=True)] for sheet in book.worksheets}


async def test_periods_close_by_themselves_after_their_deadline_when_the_commune_says_so(
        engine: Engine, demo: Demo, db: Database, content: Content):
    raw = content.deadlines.model_dump(mode="json")
    raw["communes"] = {demo.commune.code: {"cycle": {"close_after_days": 5}}}
    planner = Planner(DeadlineConfig.model_validate(raw), TZ, schemes=content.periods)
    await scheduling_pass(db, content, TZ, datetime(2026, 11, 24, 8, 0, tzinfo=TZ), planner=planner)
    async with db.uow() as uow:
        closed = [lock.period for lock in await uow.cycle.locks(demo.commune.id)]
    assert "2026-10" in closed and "2026-Q3" in closed  # ended, deadline + 5 days passed
    assert "2026-11" not in closed  # its deadline passed, but November is not over
    await scheduling_pass(db, content, TZ, datetime(2026, 12, 1, 8, 0, tzinfo=TZ), planner=planner)
    async with db.uow() as uow:
        assert (await uow.cycle.lock(demo.commune.id, "2026-11")).closed_by is None  # closed by itself
    await scheduling_pass(db, content, TZ, datetime(2026, 12, 1, 8, 0, tzinfo=TZ))  # off by default elsewhere
    assert await peek.rows(db, "audit", "COUNT(*)", where="action = 'period.close'") == [(len(closed) + 1,)]


async def test_team_figures_count_villages_members_and_who_was_active(engine: Engine, demo: Demo, db: Database):
    lan = await joined(engine, demo, 0, "c401")
    await joined(engine, demo, 0, "c402", name="Hai")
    leader = await joined(engine, demo, 0, "c403", leader=True, name="Trưởng ấp")
    phu = await joined(engine, demo, 1, "c404", name="Phú")
    await joined(engine, demo, 2, "c405", name="Ba")
    await lan.send("vneid 2")
    await phu.send("không có")
    await leader.send("/chot dung 11")
    async with db.uow() as uow:
        figures = await cycle.team_figures(uow, demo.commune, month(2026, 11))
        statuses = {s.village.name: s.state for s in await cycle.village_status(uow, demo.commune, month(2026, 11))}
    assert (figures.villages, figures.with_team, figures.members, figures.active) == (6, 3, 5, 3)
    assert (figures.on_time, figures.late, figures.unconfirmed, figures.silent) == (0, 1, 1, 4)
    assert statuses["Ấp Mỹ Thạnh"] == "late" and statuses["Ấp Mỹ Phú"] == "unconfirmed"
    assert statuses["Ấp Bình Hàng Trung"] == "silent"
    assert "3/6 thôn, ấp có tổ; 5 thành viên, 3 người hoạt động trong kỳ" in plain_text(
        await staff(engine, demo).send("/thang"))


async def test_a_cutoff_commune_counts_the_same_periods_everywhere(engine: Engine, demo: Demo, db: Database,
                                                                  content: Content, monkeypatch, clock):
    monkeypatch.setitem(content.tally.periods_by_commune, demo.commune.code, "cutoff")
    lan = await joined(engine, demo, 0, "c501")
    leader = await joined(engine, demo, 0, "c502", leader=True, name="Trưởng ấp")
    await insert(db, demo, 0, date(2026, 11, 14), 3, clock)  # the last day of November's cut-off month
    await insert(db, demo, 0, date(2026, 11, 15), 5, clock)  # the first day of December's
    deadlines = await lan.send("/hanchot")
    assert "Báo cáo tháng – tháng 12/2026 (15/11–14/12): hạn 20/12/2026" in deadlines
    assert "Báo cáo quý – quý 4/2026 (15/09–14/12): hạn 10/12/2026" in deadlines
    officer = staff(engine, demo)
    answer = await officer.send("/thang")
    assert "tháng 12/2026 (15/11–14/12)" in answer and "Tổng (so với kỳ trước): 5 người (+2)" in answer
    assert "Tổng (so với kỳ trước): 3 người" in await officer.send("/thang 11")
    assert "tháng 12/2026 (15/11–14/12)" in await officer.send("/ky")  # /ky is the same month here
    assert "năm 2026 (15/12/2025–14/12/2026)" in await officer.send("/nam")
    shown = await leader.send("/chot")
    assert "tháng 11/2026 (15/10–14/11) (hạn 20/11/2026)" in shown and "• VNeID: 3" in shown  # just overdue
    await leader.tap("✅ Đúng, gửi xã")
    async with db.uow() as uow:
        assert (await uow.cycle.confirmation(demo.villages[0].village.id, "2026-11k15")).figures == {"vneid": 3}
    assert "Đã khóa sổ tháng 11/2026 (15/10–14/11)" in await officer.send("/khoaky")
    refusal = await lan.send("14/11 vneid 1")
    assert "tháng 11/2026 (15/10–14/11) đã khóa sổ" in refusal and "/moky 11/2026" in refusal
    assert "đã khóa sổ" not in await lan.send("15/11 vneid 1")  # December's cut-off month is open
    assert await peek.live_reports(db, "count, occurred_on") == [(3, "2026-11-14"), (5, "2026-11-15"),
                                                                 (1, "2026-11-15")]


@pytest.mark.parametrize("text", ["/chot thang 13", "/khoaky abc", "/moky 99"])
async def test_bad_periods_are_answered_with_examples(engine: Engine, demo: Demo, db: Database, text: str):
    user = await joined(engine, demo, 1, "c601") if text.startswith("/chot") else staff(engine, demo)
    answer = await user.send(text)
    assert "Chưa hiểu kỳ" in answer and "Ví dụ" in answer


# The chat and the filed report read the same states (bot/services/cycle.py village_status).
EXPORT_STATES = {"Đã chốt đúng hạn": "on_time", "Chốt trễ hạn": "late", "Có báo cáo, chưa chốt": "unconfirmed",
                 "Chưa báo cáo": "silent"}
CHAT_LISTS = {"⏰ Chốt trễ: ": "late", "📝 Chưa chốt: ": "unconfirmed", "🔇 Chưa báo cáo: ": "silent"}


def chat_states(tally: str, villages: list[str]) -> dict[str, str]:
    """Each village's state as staff read it under /thang: the lists by state, on time the rest."""
    states = {}
    for line in tally.splitlines():
        for start, state in CHAT_LISTS.items():
            if line.startswith(start):
                states.update({name: state for name in line.removeprefix(start).split(", ")})
    return {name: states.get(name, "on_time") for name in villages}


async def test_the_chat_and_every_export_agree_on_each_villages_state(engine: Engine, demo: Demo, db: Database,
                                                                     clock):
    names = [v.village.name for v in demo.villages]
    on_time = await joined(engine, demo, 0, "c901", leader=True, name="Trưởng ấp 1")
    late = await joined(engine, demo, 1, "c902", leader=True, name="Trưởng ấp 2")
    await joined(engine, demo, 2, "c903", name="Thành viên 3")
    for village in (0, 1, 2):  # October's reports: its deadline is 20/10
        await insert(db, demo, village, date(2026, 10, 10), 4 + village, clock)
    now = clock.now()
    clock.set(datetime(2026, 10, 16, 9, 0, tzinfo=TZ))
    assert "Đã chốt số liệu" in await on_time.send("/chot dung 10")
    clock.set(now)  # 22/11: after the deadline
    assert "Chốt sau hạn 20/10/2026" in await late.send("/chot dung 10")
    user = staff(engine, demo)
    tally = await user.send("/thang 10")
    assert "✅ Đúng hạn: 1 · ⏰ Trễ hạn: 1 · 📝 Có báo cáo, chưa chốt: 1 · 🔇 Chưa báo cáo: 3" in tally
    chat = chat_states(tally, names)
    assert [chat[n] for n in names] == ["on_time", "late", "unconfirmed", "silent", "silent", "silent"]

    xlsx = user.engine.handle(user._inbound(text="/xuat tháng 10"))
    book = load_workbook(io.BytesIO((await xlsx)[0].attachment.data))
    rows = [list(r) for r in book["Báo cáo"].iter_rows(values_only=True)]
    header = next(r for r in rows if r[:2] == ["STT", "Thôn, ấp"])
    column = header.index("Tình trạng báo cáo")
    assert {r[1]: EXPORT_STATES[r[column]] for r in rows if r[1] in names} == chat
    team = {r[1]: r[2] for r in rows if isinstance(r[0], int) and isinstance(r[1], str)}
    assert (team["Số thôn, ấp chốt số liệu đúng hạn"], team["Số thôn, ấp chốt số liệu trễ hạn"],
            team["Số thôn, ấp có báo cáo nhưng chưa chốt"], team["Số thôn, ấp chưa báo cáo"]) == (1, 1, 1, 3)

    word = (await user.engine.handle(user._inbound(text="/xuat word tháng 10")))[0].attachment
    villages = docx.Document(io.BytesIO(word.data)).tables[2]
    assert {r.cells[1].text: EXPORT_STATES[r.cells[-1].text] for r in villages.rows
            if r.cells[1].text in names} == chat

    table = (await user.engine.handle(user._inbound(text="/xuat csv tháng 10")))[0].attachment
    lines = list(csv.reader(io.StringIO(table.data.decode("utf-8-sig"))))
    assert {cells[1]: EXPORT_STATES[cells[-1]] for cells in lines if len(cells) > 2 and cells[1] in names} == chat
