"""The report as it is filed (issue 13): the XLSX sheet "Báo cáo", the Word document and the
CSV read back, with the chat's /thang figures; the detail sheet in words; columns per kind."""

from __future__ import annotations

import io
import itertools
import re
from datetime import date

import docx
import pytest
from openpyxl import load_workbook
from support.helpers import ChatUser, demo_staff, joined_village, text_of

from bot.domain.messages import plain_text
from bot.domain.periods import cutoff_month, from_key, month, quarter, week_of, year_of
from bot.domain.tally import buckets
from bot.flows.engine import Engine
from bot.services.demo import Demo
from storage import Database

# What must never reach a person: internal codes of storage, periods, units and services.
INTERNAL = re.compile(r"member_undo|\b\d{4}-(?:W\d\d|Q\d|H\d|\d\d)\b|\b(?:unit|report|member):\d|"
                      r"\b(?:vneid|chu_ky_so|thanh_toan|dich_vu_cong|so_suc_khoe|ky_nang_so|proxy|buttons|none)\b")


joined, staff = joined_village, demo_staff


@pytest.fixture
async def november(engine: Engine, demo: Demo, db: Database, clock) -> dict[str, ChatUser]:
    """Mỹ Thạnh reports (one batch undone), its leader reports for a member who has no phone,
    Mỹ Phú says "nothing", the others are silent; one report typed for a day in October."""
    thanh = await joined(engine, demo, 0, "t1")
    leader = await joined(engine, demo, 0, "l1", leader=True)
    phu = await joined(engine, demo, 1, "t2")
    await thanh.send("vneid 5 cks 2")
    await thanh.send("02/11 vneid 40")
    await thanh.send("31/10 vneid 9 ssk 1")  # typed in November, counts in October
    await thanh.send("thanh toán 30")
    await thanh.tap("↩ Hoàn tác")  # voided by the member: never counts
    async with db.uow() as uow:
        no_phone = await uow.members.add("Bà Tư", "member", demo.villages[0].village.id, clock.now())
    assert "Bà Tư" in await leader.send(f"/baothay {no_phone.id} 20/11 dvc 3")
    await phu.send("không có")
    return {"thanh": thanh, "phu": phu, "leader": leader}


async def export(user: ChatUser, text: str):  # type: ignore[no-untyped-def]
    replies = await user.engine.handle(user._inbound(text=text))
    assert len(replies) == 1 and replies[0].attachment is not None, text_of(replies)
    return replies[0].attachment


def cells(sheet) -> list[list[object]]:  # type: ignore[no-untyped-def]
    return [list(r) for r in sheet.iter_rows(values_only=True)]


def row_starting(rows: list[list[object]], *start: object) -> list[object]:
    return next(r for r in rows if r[:len(start)] == list(start))


def row_named(rows: list[list[object]], name: str) -> list[object]:
    """The numbered line of a table whose second cell is ``name``."""
    return next(r for r in rows if r[1] == name and isinstance(r[0], int))


def line_with(answer: str, start: str) -> str:
    return next(line for line in answer.splitlines() if line.strip().startswith(start))


async def test_the_report_sheet_is_the_filed_form_with_the_chats_figures(engine, demo, november):
    user = staff(engine, demo)
    chat = await user.send("/thang")
    file = await export(user, "/xuat")
    assert file.filename == "baocao_XA-MY-HIEP_2026-11.xlsx"
    book = load_workbook(io.BytesIO(file.data))
    assert book.sheetnames[0] == "Báo cáo" and book.sheetnames[-1] == "Chi tiết"
    sheet = book["Báo cáo"]
    rows = cells(sheet)
    texts = [str(v) for r in rows for v in r if v is not None]
    # The heading: the issuing body on the left, the national heading on the right, place and date.
    assert rows[0][0] == "UBND XÃ MỸ HIỆP" and rows[0][3] == "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
    assert rows[1][3] == "Độc lập - Tự do - Hạnh phúc" and sheet.cell(2, 4).font.underline == "single"
    assert rows[2][3] == "Mỹ Hiệp, ngày 22 tháng 11 năm 2026"
    assert "BÁO CÁO" in texts
    # The period and its dates, once.
    assert [t for t in texts if "01/11/2026" in t] == ["Tháng 11 năm 2026 (từ ngày 01/11/2026 đến ngày 30/11/2026)"]
    # The indicator table: /thang's figures, this year's figures and the target.
    header = row_starting(rows, "STT", "Chỉ tiêu")
    assert header[:8] == ["STT", "Chỉ tiêu", "Đơn vị tính", "Chỉ tiêu năm", "Kết quả kỳ này", "Lũy kế từ đầu năm",
                          "Tỷ lệ (%)", "Ghi chú"]
    vneid = row_named(rows, "VNeID / định danh điện tử")
    # VNeID counts people: its target is 80% of the adults (6,353 -> 5,082)
    assert vneid[2] == "Người" and vneid[4] == 45 and vneid[5] == 54 and vneid[3] == 5082
    assert f"{vneid[6]}%" in line_with(chat, "• VNeID: 54/") and line_with(chat, "• VNeID:").endswith("45 người (+36)")
    assert "Kỳ trước: 9" in vneid[7]
    dvc = row_named(rows, "Dịch vụ công trực tuyến")
    assert dvc[2] == "Lượt" and dvc[4] == 3 and "Dịch vụ công: 3 lượt" in chat  # the proxy report counts
    # One total per unit, never people and sessions added together.
    assert row_starting(rows, None, "Tổng cộng (Người)")[4] == 47 and "47 người (+38)" in chat
    assert row_starting(rows, None, "Tổng cộng (Lượt)")[4] == 3 and "3 lượt (+3)" in chat
    # The villages' table: one line each, the status of its report, the commune's total.
    villages = row_starting(rows, "STT", "Thôn, ấp")
    thanh = dict(zip(villages, row_named(rows, "Ấp Mỹ Thạnh"), strict=True))
    assert thanh["VNeID (người)"] == 45 and thanh["Tổng (người)"] == 47 and thanh["Tổng (lượt)"] == 3
    assert thanh["Tình trạng báo cáo"] == "Có báo cáo, chưa chốt"  # the cycle's state, as /thang says it
    assert row_named(rows, "Ấp Mỹ Phú")[-1] == "Có báo cáo, chưa chốt"  # its "không có" too
    assert row_named(rows, "Ấp An Bình")[-1] == "Chưa báo cáo"
    commune = dict(zip(villages, row_starting(rows, None, "Toàn xã"), strict=True))
    assert commune["Tổng (người)"] == 47 and commune["Tình trạng báo cáo"] == "Đã chốt 0/6"
    # The team figures and the signature blocks.
    team = {r[1]: r[2] for r in rows if isinstance(r[0], int) and isinstance(r[1], str) and r[1].startswith("Số")}
    assert team["Số thành viên"] == 4 and team["Số thôn, ấp có báo cáo nhưng chưa chốt"] == 2
    assert team["Số thôn, ấp chưa báo cáo"] == 4 and team["Số thôn, ấp báo cáo không có số nào"] == 1
    assert row_named(rows, "Thành viên hoạt động trong kỳ (báo cáo hoặc chốt số liệu)")[2] == "3/4"
    assert "NGƯỜI LẬP BIỂU" in texts and "THỦ TRƯỞNG ĐƠN VỊ" in texts
    # Printed on A4 landscape, fit to the width, the villages' header repeated.
    assert sheet.page_setup.orientation == "landscape" and sheet.page_setup.paperSize == 9
    assert sheet.sheet_properties.pageSetUpPr.fitToPage and sheet.page_setup.fitToWidth == 1
    assert sheet.print_title_rows == f"${rows.index(villages) + 1}:${rows.index(villages) + 1}"


async def test_the_detail_reads_as_words_with_the_numbers_of_gannhat(engine, demo, db, november):
    user = staff(engine, demo)
    recent = await november["leader"].send("/gannhat")
    book = load_workbook(io.BytesIO((await export(user, "/xuat")).data))
    detail = book["Chi tiết"]
    header = [c.value for c in detail[6]]
    rows = [dict(zip(header, r, strict=True)) for r in detail.iter_rows(min_row=7, values_only=True)]
    proxy = next(r for r in rows if r["Dịch vụ"] == "Dịch vụ công")
    assert proxy["Người báo cáo"] == "Bà Tư" and proxy["Người nhập"] == "Người l1"
    assert proxy["Cách gửi"] == "Báo thay (do Người l1 nhập)"
    assert f"#{proxy['Số BC']} 20/11 Ấp Mỹ Thạnh – Dịch vụ công: 3 lượt – Bà Tư" in recent  # the number /gannhat shows
    undone = next(r for r in rows if r["Trạng thái"] == "Đã hủy")
    assert undone["Lý do hủy"] == "Người báo cáo tự hoàn tác" and undone["Người hủy"] == "Người t1"
    assert detail.page_setup.orientation == "landscape" and detail.print_title_rows == "$6:$6"


async def test_no_cell_of_any_sheet_holds_an_internal_code(engine, demo, november):
    user = staff(engine, demo)
    await user.send("/chitieu AP-MY-THANH vneid 2026 80%")
    for text in ("/xuat", "/xuat quy 4", "/xuat tuan", "/xuat nam"):
        book = load_workbook(io.BytesIO((await export(user, text)).data))
        for sheet in book.worksheets:
            for row in sheet.iter_rows(values_only=True):
                for value in row:
                    assert not (isinstance(value, str) and INTERNAL.search(value)), (text, sheet.title, value)


async def test_the_word_document_is_the_same_report(engine, demo, november):
    user = staff(engine, demo)
    chat = await user.send("/thang")
    file = await export(user, "/xuat word")
    assert file.filename == "baocao_XA-MY-HIEP_2026-11.docx" and file.mime_type.endswith("wordprocessingml.document")
    document = docx.Document(io.BytesIO(file.data))
    paragraphs = [p.text for p in document.paragraphs]
    assert "BÁO CÁO" in paragraphs
    assert "Tháng 11 năm 2026 (từ ngày 01/11/2026 đến ngày 30/11/2026)" in paragraphs
    heading, indicators, villages, team, signatures = document.tables
    assert [p.text for p in heading.cell(0, 0).paragraphs][:2] == ["UBND XÃ MỸ HIỆP", "PHÒNG VĂN HÓA - XÃ HỘI"]
    right = heading.cell(0, 1).paragraphs
    assert [p.text for p in right] == ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc",
                                       "Mỹ Hiệp, ngày 22 tháng 11 năm 2026"]
    assert right[1].runs[0].underline
    table = [[c.text for c in r.cells] for r in indicators.rows]
    assert table[0] == ["STT", "Chỉ tiêu", "Đơn vị tính", "Chỉ tiêu năm", "Kết quả kỳ này", "Lũy kế từ đầu năm",
                        "Tỷ lệ (%)", "Ghi chú"]
    vneid = next(r for r in table if r[1] == "VNeID / định danh điện tử")
    assert vneid[4] == "45" and vneid[5] == "54" and f"{vneid[6]}%" in line_with(chat, "• VNeID: 54/")
    assert next(r for r in table if r[1] == "Tổng cộng (Người)")[4] == "47" and "47 người (+38)" in chat
    lines = {r.cells[1].text: [c.text for c in r.cells] for r in villages.rows}
    assert lines["Ấp Mỹ Thạnh"][-1] == "Có báo cáo, chưa chốt" and lines["Toàn xã"][-4] == "47"
    assert "Số thành viên" in [r.cells[1].text for r in team.rows]
    assert signatures.cell(0, 0).paragraphs[0].text == "NGƯỜI LẬP BIỂU"
    assert signatures.cell(0, 1).paragraphs[0].text == "THỦ TRƯỞNG ĐƠN VỊ"
    section = document.sections[0]
    assert section.page_width > section.page_height  # landscape
    assert indicators.rows[0]._tr.trPr.xml.count("tblHeader") == 1  # the header repeats on every page
    everything = [*paragraphs, *[c.text for t in document.tables for r in t.rows for c in r.cells]]
    assert not [t for t in everything if INTERNAL.search(t)]


async def test_the_csv_is_the_indicator_and_village_tables(engine, demo, november):
    body = (await export(staff(engine, demo), "/xuat csv")).data.decode("utf-8-sig")
    assert "STT,Chỉ tiêu,Đơn vị tính,Chỉ tiêu năm,Kết quả kỳ này,Lũy kế từ đầu năm,Tỷ lệ (%),Ghi chú" in body
    assert "5,Ấp Mỹ Thạnh,412,45,2,0,3,0,0,47,0,3,Đã báo cáo"  # per unit: people, households, sessions in body


@pytest.mark.parametrize("period", [
    month(2026, 11), month(2026, 2), month(2026, 3), cutoff_month(2026, 12, 15), cutoff_month(2026, 3, 20),
    quarter(2026, 4), year_of(date(2026, 5, 1)), from_key("2026-H1"),
])
def test_no_column_is_shorter_than_its_kind(period):
    parts = buckets(period)
    assert parts[0].start == period.start and parts[-1].end == period.end
    assert all((b.start - a.end).days == 1 for a, b in itertools.pairwise(parts))  # no gap, no overlap
    if parts[0].kind == "week":
        assert all(7 <= (p.end - p.start).days + 1 <= 13 for p in parts)
    else:
        assert all(28 <= (p.end - p.start).days + 1 <= 31 for p in parts)


def test_a_week_is_cut_in_days():
    parts = buckets(week_of(date(2026, 11, 30)))
    assert [p.kind for p in parts] == ["day"] * 7


def test_week_columns_are_weeks_from_the_periods_first_day(content):
    from bot.domain.tally import bucket_label

    labels = [plain_text(bucket_label(content.texts, p)) for p in buckets(month(2026, 11))]
    assert labels == ["Tuần 01/11–07/11", "Tuần 08/11–14/11", "Tuần 15/11–21/11", "Tuần 22/11–30/11"]
    labels = [plain_text(bucket_label(content.texts, p)) for p in buckets(quarter(2026, 4))]
    assert labels == ["Th10/2026", "Th11/2026", "Th12/2026"]



# The chart ---------------------------------------------------------------------------------------------------
async def chart_of(user: ChatUser, text: str):  # type: ignore[no-untyped-def]
    """The figure /bieudo draws for ``text`` (the PNG sent is this figure)."""
    from bot.flows import tally as flow
    from bot.services import chart

    drawn = []
    real = chart.build_figure

    def keep(*args, **kwargs):  # type: ignore[no-untyped-def]
        drawn.append(real(*args, **kwargs))
        return drawn[-1]

    chart.build_figure = keep
    try:
        replies = await user.engine.handle(user._inbound(text=text))
        assert replies[0].attachment is not None and replies[0].attachment.data.startswith(b"\x89PNG")
    finally:
        chart.build_figure = real
    assert flow is not None and len(drawn) == 1
    return drawn[0]


def texts_of(figure) -> list[str]:  # type: ignore[no-untyped-def]
    out = [t.get_text() for t in figure.texts]
    for axes in figure.axes:
        out += [t.get_text() for t in axes.texts]
        out += [t.get_text() for t in axes.get_xticklabels() + axes.get_yticklabels()]
        legend = axes.get_legend()
        out += [t.get_text() for t in legend.get_texts()] if legend else []
        out += [axes.get_xlabel(), axes.get_ylabel(), axes.get_title(loc="left")]
    return out


async def test_the_commune_chart_tells_zero_from_silence_and_shows_the_target(engine, demo, november):
    figure = await chart_of(staff(engine, demo), "/bieudo")
    people, households, sessions, progress = figure.axes  # one panel per kind of count, then the progress
    bars = people
    words = texts_of(figure)
    assert "Đã báo cáo: không hỗ trợ ai" in words and "Chưa báo cáo" in words  # the legend, in Vietnamese
    # Mỹ Phú; the four silent ones, on each of the three panels
    assert "0 – báo không có" in words and words.count("chưa báo cáo") == 4 * 3
    assert " 47" in words  # Mỹ Thạnh's people (VNeID 45, Chữ ký số 2); its 3 sessions on their own panel
    assert bars.get_xlabel() == "Số người (01/11/2026 – 30/11/2026)"
    assert households.get_xlabel() == "Số hộ (01/11/2026 – 30/11/2026)"
    assert sessions.get_xlabel() == "Số lượt (01/11/2026 – 30/11/2026)"
    assert all(float(t).is_integer() for t in bars.get_xticks())  # whole numbers on the axis
    assert progress.get_title(loc="left") == "Tiến độ năm 2026 so với chỉ tiêu"
    assert "54/5.082 (1%)" in words and "Chỉ tiêu năm (100%)" in words
    colours = {t.get_text(): t.get_color() for t in bars.get_yticklabels()}
    assert colours["Ấp An Bình"] != colours["Ấp Mỹ Thạnh"]  # a silent village's name is greyed


async def test_a_villages_chart_labels_each_bar_with_what_it_covers(engine, demo, november):
    figure = await chart_of(november["thanh"], "/bieudo")
    ticks = [t.get_text() for t in figure.axes[0].get_xticklabels()]
    assert ticks == ["Tuần 01/11–07/11", "Tuần 08/11–14/11", "Tuần 15/11–21/11", "Tuần 22/11–30/11"]
    assert all(float(t).is_integer() for t in figure.axes[0].get_yticks())
    week = await chart_of(november["thanh"], "/bieudo tuan")
    assert [t.get_text() for t in week.axes[0].get_xticklabels()][:2] == ["16/11", "17/11"]
    year = await chart_of(november["thanh"], "/bieudo nam")
    assert [t.get_text() for t in year.axes[0].get_xticklabels()][10:] == ["Th11/2026", "Th12/2026"]


async def test_a_chart_of_only_zero_reports_is_drawn(engine, demo, db, clock):
    phu = await joined(engine, demo, 1, "z1")
    await phu.send("không có")
    figure = await chart_of(staff(engine, demo), "/bieudo")
    assert "0 – báo không có" in texts_of(figure)


async def test_one_villages_report_names_its_commune_and_itself(engine, demo, november):
    file = await export(staff(engine, demo), "/xuat word mỹ thạnh")
    assert file.filename == "baocao_AP-MY-THANH_2026-11.docx"
    document = docx.Document(io.BytesIO(file.data))
    paragraphs = [p.text for p in document.paragraphs]
    assert document.tables[0].cell(0, 0).paragraphs[0].text == "UBND XÃ MỸ HIỆP" and "Đơn vị: Ấp Mỹ Thạnh" in paragraphs
    villages = [[c.text for c in r.cells] for r in document.tables[2].rows]
    assert [r[1] for r in villages[1:]] == ["Ấp Mỹ Thạnh"] and villages[-1][-2] == "3"  # no total of one line
    assert villages[-1][-4] == "47"  # one total per unit: people, households, sessions


async def test_a_chart_never_stacks_unlike_counts(engine, demo, november, monkeypatch):
    from bot.services import chart

    monkeypatch.setattr(chart, "unit_of", lambda content, code, commune: (  # only signatures count people
        ("people", "Người") if code == "chu_ky_so" else ("households", "Hộ")))
    figure = await chart_of(staff(engine, demo), "/bieudo")
    households, people, _ = figure.axes
    assert households.get_xlabel().startswith("Số hộ") and people.get_xlabel().startswith("Số người")
    assert " 48" in texts_of(figure) and " 2" in [t.get_text() for t in people.texts]  # 45 + 3; the 2 signatures
