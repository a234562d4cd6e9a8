"""Tallies, explicit zero reports, targets, the chart and the XLSX export (issue 3)."""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from support import peek
from support.helpers import ChatUser, demo_staff, joined_village, text_of

from bot.content import Content
from bot.domain.messages import plain_text
from bot.domain.periods import cutoff_month, from_key, month, quarter, week_of, year_of
from bot.flows.engine import Engine
from bot.flows.tally import BadArgument, parse_period
from bot.handlers.terminal import TerminalChat
from bot.services.demo import Demo
from bot.services.tallies import build_tally
from bot.services.targets import import_targets
from storage import Database
from storage.models import NewReport

TODAY = date(2026, 11, 22)  # helpers.NOW


# Helpers --------------------------------------------------------------------------------------
joined, staff = joined_village, demo_staff


async def member_id(db: Database, user: ChatUser) -> int:
    async with db.uow() as uow:
        member = await uow.members.by_identity(user.channel, user.user_id)
    assert member is not None
    return member.id


async def insert(db: Database, member: int, village: int, day: date, clock, **counts: int) -> str:
    """Reports written straight to storage (for days the chat would refuse as too old)."""
    batch = f"b{day.isoformat()}{len(counts)}{sum(counts.values())}{village}"
    async with db.uow() as uow:
        await uow.reports.add_batch(batch, member, village, [NewReport(s, c) for s, c in counts.items()],
                                    day, "text", clock.now())
    return batch


async def live_rows(db: Database) -> list[tuple]:
    return await peek.live_reports(db, "service, count, occurred_on")


def line_with(answer: str, start: str) -> str:
    return next(line for line in answer.splitlines() if line.strip().startswith(start))


# Explicit zero reports -------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["không có", "khong co", "0 hộ", "hôm nay không có hộ nào cần hỗ trợ"])
async def test_zero_report_by_text_is_recorded_as_a_count_zero(engine, demo, db, text):
    user = await joined(engine, demo, 0, "z1")
    answer = await user.send(text)
    assert "không hỗ trợ ai" in answer and "22/11/2026" in answer
    assert await live_rows(db) == [("none", 0, "2026-11-22")]
    assert "Đã hủy" in await user.tap("↩ Hoàn tác")  # undone like any report
    assert await live_rows(db) == []


async def test_zero_report_keeps_its_day(engine, demo, db):
    user = await joined(engine, demo, 0, "z2")
    await user.send("hôm qua không có")
    assert await live_rows(db) == [("none", 0, "2026-11-21")]


async def test_zero_report_from_the_button_flow(engine, demo, db):
    user = await joined(engine, demo, 0, "z3")
    await user.send("/baocao")
    summary = await user.tap("🚫 Không hỗ trợ ai")
    assert "Không hỗ trợ ai" in summary and "22/11/2026" in summary
    assert await live_rows(db) == []  # nothing until confirmed
    assert "Đã ghi nhận" in await user.tap("✔ Ghi nhận")
    assert await live_rows(db) == [("none", 0, "2026-11-22")]


async def test_zero_typed_at_the_service_step(engine, demo, db):
    user = await joined(engine, demo, 0, "z4", leader=True)
    await user.send("/baocao")
    await user.send("không có")
    await user.send("1")  # ✔ Ghi nhận, by its key
    assert await live_rows(db) == [("none", 0, "2026-11-22")]


async def test_staff_cannot_send_a_zero_report(engine, demo, db):
    assert "Cán bộ xã không tự gửi báo cáo" in await staff(engine, demo).send("không có")
    assert await live_rows(db) == []


# The staff tally --------------------------------------------------------------------------------
@pytest.fixture
async def november(engine: Engine, demo: Demo, db: Database, clock) -> dict[str, ChatUser]:
    """Mỹ Thạnh reports, Mỹ Phú says "nothing", the others are silent; one report voided;
    one typed today for a day in October."""
    thanh = await joined(engine, demo, 0, "t1")
    phu = await joined(engine, demo, 1, "t2")
    await thanh.send("vneid 5 cks 2")
    await thanh.send("02/11 vneid 40")
    await thanh.send("31/10 vneid 9 ssk 1")  # typed in November, counts in October
    await thanh.send("thanh toán 30")
    await thanh.tap("↩ Hoàn tác")  # voided: never counts
    await phu.send("không có")
    return {"thanh": thanh, "phu": phu}


async def test_staff_month_tally(engine, demo, november):
    replies = await staff(engine, demo).engine.handle(staff(engine, demo)._inbound(text="/thang"))
    summary = plain_text(replies[0].text)
    assert "Xã Mỹ Hiệp – tháng 11/2026" in summary
    # October: VNeID 9 people, Sổ sức khỏe 1 household: never one sum of unlike things
    assert "Tổng (so với kỳ trước): 0 hộ (−1) · 47 người (+38)" in summary
    assert line_with(summary, "• VNeID:") == "• VNeID: 45 người (+36)"
    assert line_with(summary, "• Chữ ký số:") == "• Chữ ký số: 2 người (+2)"
    assert line_with(summary, "• Sổ sức khỏe:") == "• Sổ sức khỏe: 0 hộ (−1)"
    assert "Thanh toán: 30" not in summary
    # Staff read the villages by confirmation state: a report alone is not "reported".
    assert "✅ Đúng hạn: 0 · ⏰ Trễ hạn: 0 · 📝 Có báo cáo, chưa chốt: 2 · 🔇 Chưa báo cáo: 4" in summary
    assert line_with(summary, "📝 Chưa chốt") == "📝 Chưa chốt: Ấp Mỹ Phú, Ấp Mỹ Thạnh"
    silent = line_with(summary, "🔇 Chưa báo cáo:")
    assert silent == "🔇 Chưa báo cáo: Ấp An Bình, Ấp Bình Hàng Trung, Ấp Hòa Long, Ấp Tân Thuận"
    assert line_with(summary, "Tổ công nghệ số:").startswith("Tổ công nghệ số: 2/6 thôn, ấp có tổ;")
    villages = text_of(replies[1:])
    assert "Ấp Mỹ Thạnh: 0 hộ (−1), 47 người (+38)" in villages
    assert "VNeID 45 người, Chữ ký số 2 người" in villages
    assert "Ấp Mỹ Phú: 0 – đã báo không có" in villages
    assert "Ấp An Bình: ⚠ chưa báo cáo" in villages


async def test_coverage_against_demo_targets(engine, demo, november):
    answer = await staff(engine, demo).send("/thang")
    # VNeID counts people: its target 80% is of each hamlet's adults (6,353 in all -> 5,082);
    # helped this year: 54 people. Thanh toán counts households: 60% of 2,387 households.
    assert "Tiến độ năm 2026 so với mục tiêu:" in answer
    assert line_with(answer, "• VNeID: 54/") == "• VNeID: 54/5.082 người ░░░░░░░░░░ 1%"
    assert line_with(answer, "• Thanh toán:") == "• Thanh toán: 0/1.432 hộ ░░░░░░░░░░ 0%"
    # Dịch vụ công counts sessions: a number as its target, no share of anything.
    assert line_with(answer, "• Dịch vụ công:") == "• Dịch vụ công: 0/900 lượt ░░░░░░░░░░ 0%"
    member_view = await november["thanh"].send("/thang")
    assert line_with(member_view, "• VNeID: 54/") == "• VNeID: 54/874 người ▓░░░░░░░░░ 6%"  # 80% of 1,093


async def test_previous_periods_and_arguments(engine, demo, november):
    user = staff(engine, demo)
    october = await user.send("/thang truoc")
    assert "tháng 10/2026" in october and "Tổng (so với kỳ trước): 1 hộ (+1) · 9 người (+9)" in october
    assert "tháng 10/2026" in await user.send("/thang 10")
    assert "1 hộ (+1) · 9 người (+9)" in await user.send("/thang 10/2026")
    quarter_answer = await user.send("/quy")
    assert "quý 4/2026" in quarter_answer and "1 hộ (+1) · 56 người (+56)" in quarter_answer
    assert "quý 3/2026" in await user.send("/quy 3")
    assert "1 hộ (+1) · 56 người (+56)" in await user.send("/nam")
    assert "năm 2025" in await user.send("/nam 2025")
    week = await user.send("/tuan")
    assert "tuần 16/11–22/11/2026" in week and "Tổng (so với kỳ trước): 7 người (+7)" in week
    assert "tuần 09/11–15/11/2026" in await user.send("/tuan truoc")
    assert "tháng 12/2025" in await user.send("/thang 12")  # December 2026 has not started


async def test_staff_may_name_one_of_their_villages(engine, demo, november):
    answer = await staff(engine, demo).send("/thang mỹ thạnh")
    assert "Ấp Mỹ Thạnh – tháng 11/2026" in answer and "47 người (+38)" in answer
    assert "Ấp Mỹ Phú" not in answer


async def test_member_sees_only_their_village(engine, demo, november):
    phu = november["phu"]
    answer = await phu.send("/thang")
    assert "Ấp Mỹ Phú – tháng 11/2026" in answer and "Tổng (so với kỳ trước): 0 hộ (=)" in answer
    assert "Ấp Mỹ Phú đã báo: kỳ này không có ai cần hỗ trợ" in answer
    assert "Mỹ Thạnh" not in answer
    refused = await phu.send("/thang ấp mỹ thạnh")
    assert "không xem được «ấp mỹ thạnh»" in refused and "47" not in refused
    assert "nằm ngoài phạm vi của bạn (Ấp Mỹ Phú)" in await phu.send("/thang XA-MY-HIEP")


async def test_nobody_sees_another_commune(engine, demo, db, clock):
    async with db.uow() as uow:
        other = await uow.units.add("commune", "XA-KHAC", "Xã Khác", demo.commune.parent_id)
        village = await uow.units.add("village", "AP-KHAC", "Ấp Khác", other.id, 100, 300)
        admin = await uow.members.add("Quản trị", "admin", demo.commune.parent_id or 0, clock.now())
        await uow.members.link_identity(admin.id, "telegram", "adm", "adm", clock.now())
        reporter = await uow.members.add("Tư", "member", village.id, clock.now())
    await insert(db, reporter.id, village.id, TODAY, clock, vneid=77)
    refused = await staff(engine, demo).send("/thang XA-KHAC")
    assert "«XA-KHAC» nằm ngoài phạm vi của bạn (Xã Mỹ Hiệp)" in refused and "77" not in refused
    assert "Không tìm thấy" in await staff(engine, demo).send("/thang ấp khác")
    admin_user = ChatUser(engine, "adm")
    assert "Tỉnh Đồng Tháp – tháng 11/2026" in await admin_user.send("/thang")  # an admin's own unit first
    answer = await admin_user.send("/thang XA-KHAC")
    assert "Xã Khác – tháng 11/2026" in answer and "Tổng (so với kỳ trước): 77 người (+77)" in answer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/thang 13", "Chưa hiểu kỳ"),
        ("/thang abc", "Chưa hiểu kỳ"),
        ("/quy 5", "Chưa hiểu kỳ"),
        ("/nam 20x5", "Chưa hiểu kỳ"),
        ("/tuan 31/02", "Chưa hiểu kỳ"),
        ("/thang 12/2026", "chưa bắt đầu"),
        ("/nam 2027", "chưa bắt đầu"),
        ("/thang thôn 99", "Không tìm thấy"),
    ],
)
async def test_bad_arguments_are_answered_politely(engine, demo, db, november, text, expected):
    before = await live_rows(db)
    answer = await staff(engine, demo).send(text)
    assert expected in answer and "Tổng:" not in answer
    assert await live_rows(db) == before


async def test_long_tallies_are_split_for_the_phone(engine, db, content, clock):
    async with db.uow() as uow:
        province = await uow.units.add("province", "BIG", "Tỉnh Lớn")
        commune = await uow.units.add("commune", "XA-LON", "Xã Rất Lớn", province.id)
        reporter = None
        for n in range(80):
            village = await uow.units.add("village", f"T{n:02d}", f"Thôn Số Rất Dài Tên {n:02d}", commune.id, 300, 900)
            if reporter is None:
                reporter = await uow.members.add("Tư", "member", village.id, clock.now())
            await uow.reports.add_batch(f"big{n}", reporter.id, village.id,
                                        [NewReport(code, n + 1) for code in content.catalogue.codes],
                                        TODAY, "text", clock.now())
        boss = await uow.members.add("Cán bộ", "staff", commune.id, clock.now())
        await uow.members.link_identity(boss.id, "telegram", "boss", "boss", clock.now())
    replies = await ChatUser(engine, "boss").engine.handle(ChatUser(engine, "boss")._inbound(text="/thang"))
    assert len(replies) >= 3
    assert all(len(plain_text(r.text)) <= content.tally.max_message_chars for r in replies)
    villages_text = text_of(replies[1:])
    assert all(f"Thôn Số Rất Dài Tên {n:02d}" in villages_text for n in range(80))
    # 6 services x (1 + ... + 80): two count households, three people, one sessions
    assert "6.480 hộ (+6.480) · 9.720 người (+9.720) · 3.240 lượt (+3.240)" in plain_text(replies[0].text)


# Period edges --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("week", "", week_of(TODAY)),
        ("week", "truoc", week_of(date(2026, 11, 15))),
        ("week", "trước", week_of(date(2026, 11, 15))),
        ("week", "1/1/2027", None),
        ("week", "31/12/2026", week_of(date(2026, 12, 31))),
        ("week", "29/02/2028", week_of(date(2028, 2, 29))),
        ("month", "10", month(2026, 10)),
        ("month", "12", month(2025, 12)),
        ("month", "2/2028", month(2028, 2)),
        ("month", "2026-10", month(2026, 10)),
        ("quarter", "3", quarter(2026, 3)),
        ("quarter", "truoc", quarter(2026, 3)),
        ("year", "2025", year_of(date(2025, 1, 1))),
        ("year", "truoc", year_of(date(2025, 1, 1))),
        ("cutoff", "", cutoff_month(2026, 12, 15)),
        ("cutoff", "11", cutoff_month(2026, 11, 15)),
        ("any", "2026-Q4", quarter(2026, 4)),
    ],
)
def test_period_arguments(content: Content, kind, text, expected):
    if expected is None:
        assert week_of(date(2027, 1, 1)).start == date(2026, 12, 28)  # the ISO week spans the year end
        assert parse_period(kind, text, TODAY, 15, content.tally) == week_of(date(2026, 12, 28))
        return
    assert parse_period(kind, text, TODAY, 15, content.tally) == expected


def test_bad_period_arguments(content: Content):
    for kind, text in [("month", "0"), ("month", "13/2026"), ("quarter", "0"), ("week", "32/1"), ("year", "99")]:
        with pytest.raises(BadArgument):
            parse_period(kind, text, TODAY, 15, content.tally)


async def test_periods_at_their_edges(db, demo, clock, content):
    """A report counts in the period of its day: 14th vs 15th for cut-off months, year end, leap day."""
    village = demo.villages[0].village
    async with db.uow() as uow:
        reporter = await uow.members.add("Tư", "member", village.id, clock.now())
    days = {date(2026, 10, 14): 1, date(2026, 10, 15): 2, date(2025, 12, 31): 4, date(2026, 1, 1): 8,
            date(2028, 2, 29): 16, date(2028, 3, 1): 32}
    for day, count in days.items():
        await insert(db, reporter.id, village.id, day, clock, vneid=count)

    async def total(period) -> int:
        async with db.uow() as uow:
            return (await build_tally(uow, demo.commune, period, content.catalogue.codes, clock.now())).total

    assert await total(cutoff_month(2026, 10)) == 1  # 15/9–14/10
    assert await total(cutoff_month(2026, 11)) == 2  # 15/10–14/11
    assert await total(month(2026, 10)) == 3
    assert await total(year_of(date(2025, 6, 1))) == 4
    assert await total(year_of(date(2026, 6, 1))) == 11
    assert await total(week_of(date(2025, 12, 31))) == 12  # Monday 29/12/2025 – Sunday 4/1/2026
    assert await total(quarter(2026, 1)) == 8
    assert await total(month(2028, 2)) == 16
    assert await total(from_key("2028-W09")) == 48  # 28/2–5/3/2028


async def test_cutoff_day_per_commune(engine, demo, db, clock, content, monkeypatch):
    monkeypatch.setitem(content.tally.cutoff_day_by_commune, demo.commune.code, 20)
    answer = await staff(engine, demo).send("/ky")
    assert "tháng 12/2026 (20/11–19/12)" in answer


# Targets import ---------------------------------------------------------------------------------------
async def test_targets_import_all_or_nothing(db, demo, content, clock):
    bad = (
        "commune,village,service,year,target\n"
        "XA-MY-HIEP,AP-MY-THANH,vneid,2026,90%\n"
        "XA-MY-HIEP,AP-NOWHERE,vneid,2026,90%\n"
        "XA-MY-HIEP,AP-MY-PHU,banh mi,2026,90%\n"
        "XA-MY-HIEP,AP-MY-PHU,cks,20x6,90%\n"
        "XA-MY-HIEP,AP-MY-PHU,cks,2026,150%\n"
        "XA-MY-HIEP,AP-MY-THANH,vneid,2026,80%\n"
        "XA-NOPE,AP-MY-PHU,cks,2026,10\n"
    )
    async with db.uow() as uow:
        result = await import_targets(uow, content, bad, clock.now())
    lines = [int(re.match(r"dòng (\d+)", e).group(1)) for e in result.errors]
    assert result.imported == 0 and lines == [3, 4, 5, 6, 7, 8]
    assert "trùng với dòng 2" in result.errors[4]
    rows = await peek.rows(db, "targets", "kind, value", where="unit_id = ? AND service = 'vneid'",
                           params=(demo.villages[0].village.id,))
    assert rows == [("percent_adults", 80.0)]  # the demo's (VNeID counts people), untouched
    unlike = ("commune,village,service,year,target\n"
              "XA-MY-HIEP,AP-MY-PHU,dvc,2026,50%\n"  # Dịch vụ công counts sessions: no share
              "XA-MY-HIEP,AP-MY-PHU,thanh toán,2026,5000\n")  # 368 households
    async with db.uow() as uow:
        result = await import_targets(uow, content, unlike, clock.now())
    assert result.imported == 0 and "dòng 2: Dịch vụ công đếm số lượt" in result.errors[0]
    assert "dòng 3: Ấp Mỹ Phú chỉ có 368 hộ" in result.errors[1]
    good = "\ufeffcommune;village;service;year;target\nxa-my-hiep;AP-MY-THANH;cks;2026;120\n"
    async with db.uow() as uow:
        result = await import_targets(uow, content, good, clock.now())
    assert result.imported == 1 and not result.errors
    rows = await peek.rows(db, "targets", "kind, value", where="unit_id = ? AND service = 'chu_ky_so'",
                           params=(demo.villages[0].village.id,))
    assert rows == [("absolute", 120.0)]


async def test_demo_seeding_keeps_imported_targets(db, demo, content, clock):
    from bot.services.demo import seed_demo

    async with db.uow() as uow:
        await uow.targets.set(demo.villages[0].village.id, "vneid", 2026, "absolute", 5, clock.now())
    await seed_demo(db, content, clock.now())
    # 6 villages x 4 services; Dịch vụ công's 6 are numbers (it counts sessions), and the one imported
    assert (await peek.count(db, "targets"), await peek.count(db, "targets", "kind = 'absolute'")) == (6 * 4, 7)


# XLSX and chart ---------------------------------------------------------------------------------------------
async def test_xlsx_has_the_same_figures_as_the_chat(engine, demo, november):
    user = staff(engine, demo)
    chat = await user.send("/thang")
    replies = await user.engine.handle(user._inbound(text="/xuat"))
    assert len(replies) == 1 and replies[0].attachment is not None
    file = replies[0].attachment
    assert file.kind == "document" and file.filename == "baocao_XA-MY-HIEP_2026-11.xlsx"
    book = load_workbook(io.BytesIO(file.data))
    assert book.sheetnames[0] == "Báo cáo" and book.sheetnames[-1] == "Chi tiết" and "VNeID" in book.sheetnames
    report = [list(r) for r in book["Báo cáo"].iter_rows(values_only=True)]
    header = next(r for r in report if r[:2] == ["STT", "Thôn, ấp"])
    rows = {r[1]: dict(zip(header, r, strict=True)) for r in report[report.index(header) + 1:] if r[1]}
    assert rows["Ấp Mỹ Thạnh"]["VNeID (người)"] == 45 and rows["Ấp Mỹ Thạnh"]["Tổng (người)"] == 47
    assert rows["Ấp Mỹ Phú"]["Tình trạng báo cáo"] == "Có báo cáo, chưa chốt"
    assert rows["Ấp An Bình"]["Tình trạng báo cáo"] == "Chưa báo cáo"
    total = rows["Toàn xã"]
    assert total["Tổng (người)"] == 47 and total["Thanh toán (hộ)"] == 0 and total["Tổng (hộ)"] == 0
    assert "47 người (+38)" in chat
    vneid = book["VNeID"]
    assert vneid["A2"].value == "Đơn vị: Xã Mỹ Hiệp – VNeID / định danh điện tử (đơn vị tính: người)"
    assert "tháng 11/2026 (01/11/2026 – 30/11/2026)" in vneid["A3"].value
    assert vneid["A4"].value == "Lập lúc: 09:30 22/11/2026"
    assert vneid.freeze_panes == "B7"
    weeks = [c.value for c in vneid[6]]
    assert weeks == ["Thôn, ấp", "Tuần 01/11–07/11", "Tuần 08/11–14/11", "Tuần 15/11–21/11", "Tuần 22/11–30/11",
                     "Tổng cộng"]
    by_village = {r[0]: r for r in vneid.iter_rows(min_row=7, values_only=True)}
    assert by_village["Ấp Mỹ Thạnh"][1:5] == (40, 0, 0, 5)
    assert by_village["Toàn xã"][-1] == 45
    detail = book["Chi tiết"]
    head = [c.value for c in detail[6]]
    records = [dict(zip(head, r, strict=True)) for r in detail.iter_rows(min_row=7, values_only=True)]
    voided = [r for r in records if r["Trạng thái"] == "Đã hủy"]
    assert [(r["Dịch vụ"], r["Số lượng"]) for r in voided] == [("Thanh toán", 30)]
    assert ("Ấp Mỹ Phú", "Không hỗ trợ ai", 0) in [(r["Thôn, ấp"], r["Dịch vụ"], r["Số lượng"]) for r in records]
    assert all(isinstance(r["Số lượng"], int) for r in records) and isinstance(records[0]["Ngày"], datetime)
    assert {r["Người báo cáo"] for r in records} == {"Người t1", "Người t2"}
    assert all(r["Ngày"].date() >= date(2026, 11, 1) for r in records)  # 31/10 is October's


async def test_members_cannot_export(engine, demo, november):
    assert "Lệnh /xuat dành cho cán bộ xã" in await november["thanh"].send("/xuat")


async def test_chart_is_a_png_photo(engine, demo, november):
    user = staff(engine, demo)
    replies = await user.engine.handle(user._inbound(text="/bieudo"))
    file = replies[0].attachment
    assert file is not None and file.kind == "photo" and file.data.startswith(b"\x89PNG")
    caption = plain_text(replies[0].text)
    assert "Xã Mỹ Hiệp – tháng 11/2026 (01/11–30/11): 0 hộ (−1 so với kỳ trước), " \
           "47 người (+38 so với kỳ trước)" in caption
    own = await november["thanh"].engine.handle(november["thanh"]._inbound(text="/bieudo tuan"))
    assert own[0].attachment is not None
    assert "Ấp Mỹ Thạnh – tuần 16/11–22/11/2026: 7 người (+7 so với kỳ trước)" in plain_text(own[0].text)
    assert "Chưa có số liệu" in await user.send("/bieudo thang 9")


async def test_terminal_chat_saves_files_and_prints_the_path(engine, demo, content, november, tmp_path: Path):
    out = io.StringIO()
    chat = TerminalChat(engine, content, demo.staff_user, stdout=out, output_dir=tmp_path / "files")
    await chat.send("/xuat thang 11")
    await chat.send("/xuat thang 11")
    printed = out.getvalue()
    paths = re.findall(r"Đã lưu tệp: (.+)", printed)
    assert [Path(p).name for p in paths] == ["baocao_XA-MY-HIEP_2026-11.xlsx", "baocao_XA-MY-HIEP_2026-11-2.xlsx"]
    assert load_workbook(paths[0])["Báo cáo"]["A1"].value == "UBND XÃ MỸ HIỆP"


async def test_voided_report_leaves_the_tally(engine, demo, db, november):
    user = staff(engine, demo)
    assert "1 hộ (+1) · 9 người (+9)" in await user.send("/thang 10")
    assert "31/10/2026" in await november["thanh"].send("/huy")  # the last batch typed: October's
    await november["thanh"].tap("Hủy báo cáo này")
    assert "Tổng (so với kỳ trước): 0 hộ (=)" in await user.send("/thang 10")
    assert "Tổng (so với kỳ trước): 47 người (+47)" in await user.send("/thang")
