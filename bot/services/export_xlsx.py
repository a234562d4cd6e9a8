"""The XLSX writer of ``bot/export.py`` (openpyxl's write-only workbook, streamed from a read
snapshot): imported only when a file is built, never inside a command's unit of work.

Sheets: "Báo cáo" (the report as it is filed: ``export_report``), one sheet per service over
the period's days, weeks or months, "Chỉ tiêu theo thôn" (when a target is set) and the detail
of every report row ("Chi tiết"). Every sheet prints on A4 landscape, fit to the page's width,
with its header row repeated on every page.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.worksheet import Worksheet

from bot.content import Content
from bot.domain.reports import NONE_SERVICE
from bot.domain.tally import Tally, bucket_label, bucketed, buckets, long_day, period_name
from bot.services import export_rows
from bot.services.export_report import FiledReport, Table, filed_report, total_name, unit_of
from bot.services.export_rows import MEMBER_UNDO, TITLE_ROWS, ExportData, _t, read_filed
from storage import ReadSnapshot
from storage.models import DayTotal, DetailRow, Unit

HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=13)
THIN = Side(style="thin")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
# The sheet "Báo cáo": the typeface of administrative documents.
SERIF = "Times New Roman"
R_PLAIN, R_BOLD, R_ITALIC = Font(name=SERIF, size=12), Font(name=SERIF, size=12, bold=True), Font(
    name=SERIF, size=12, italic=True)
R_MOTTO = Font(name=SERIF, size=13, bold=True, underline="single")
R_TITLE = Font(name=SERIF, size=14, bold=True)
CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)
WRAP = Alignment(vertical="center", wrap_text=True)


def _cell(ws: WriteOnlyWorksheet, value: object, font: Font | None = None, number_format: str | None = None,
          header: bool = False, align: Alignment | None = None, border: bool = False) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=value)
    if font is not None:
        cell.font = font
    if number_format is not None:
        cell.number_format = number_format
    if header:
        cell.font, cell.fill = font or BOLD, HEADER_FILL
        cell.alignment = Alignment(horizontal="center", wrap_text=True, vertical="center")
    if align is not None:
        cell.alignment = align
    if border:
        cell.border = BOX
    return cell


def _print_setup(ws: WriteOnlyWorksheet, header_row: int | None) -> None:
    """A4 landscape, fit to the page's width (as many pages down as it takes), the header row
    repeated at the top of every page."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.5
    if header_row is not None:
        ws.print_title_rows = f"{header_row}:{header_row}"


def _sheet(workbook: Workbook, title: str, tally: Tally, content: Content, tz: ZoneInfo, labels: list[str],
           widths: list[int], unit: str | None = None) -> WriteOnlyWorksheet:
    """A new write-only sheet with its title block and header row (row ``TITLE_ROWS + 2``)."""
    ws = workbook.create_sheet(title[:31])
    for column, width in enumerate(widths, start=1):  # column widths and panes go before the first row
        ws.column_dimensions[get_column_letter(column)].width = width
    header_row = TITLE_ROWS + 2
    ws.freeze_panes = f"B{header_row + 1}"
    _print_setup(ws, header_row)
    period = tally.period
    lines = [
        _t(content, "export.title"),
        unit or _t(content, "export.unit_line", unit=tally.scope.name),
        _t(content, "export.sheet_period_line", period=period_name(content.texts, period),
           start=long_day(period.start), end=long_day(period.end)),
        _t(content, "export.sheet_generated_line", at=tally.generated_at.astimezone(tz).strftime("%H:%M %d/%m/%Y")),
    ]
    last = get_column_letter(max(len(labels), 1))
    for index, text in enumerate(lines, start=1):
        ws.append([_cell(ws, text, TITLE if index == 1 else BOLD)])
        ws.merged_cells.add(f"A{index}:{last}{index}")
    ws.append([])
    ws.append([_cell(ws, label, header=True) for label in labels])
    return ws


def write_xlsx(data: ExportData, content: Content, tz: ZoneInfo) -> bytes:
    """The XLSX file, built here: read from one snapshot and streamed (see ``bot/services/export.py``)."""
    with data.snapshot() as snapshot:
        filed = read_filed(snapshot, data.tally)
        tally = filed.tally
        scope, period = tally.scope, tally.period
        days = snapshot.run(lambda uow: uow.tallies.daily(scope.kind, scope.id, period.start, period.end))
        upto = snapshot.run(lambda uow: uow.tallies.last_report_id())
        workbook = Workbook(write_only=True)
        report_sheet(workbook, filed_report(content, tally, filed.statuses, filed.team, filed.commune, tz))
        _service_sheets(workbook, tally, days, content, tz, filed.commune)
        _targets_sheet(workbook, tally, content, tz, filed.commune)
        _detail_sheets(workbook, tally, _detail_rows(snapshot, tally, upto), content, tz)
        buffer = io.BytesIO()
        workbook.save(buffer)
    return buffer.getvalue()


def _detail_rows(snapshot: ReadSnapshot, tally: Tally, upto: int) -> Iterator[DetailRow]:
    """Every report row of the period that existed when the summary was read (ids up to ``upto``),
    one day at a time, each day in a read transaction of its own (:meth:`ReadSnapshot.renew`):
    a day's rows in memory, never the period's, and the WAL checkpointed as the file is built."""
    scope, day = tally.scope, tally.period.start
    while day <= tally.period.end:
        snapshot.renew()
        yield from snapshot.run(lambda uow, on=day: uow.tallies.detail(scope.kind, scope.id, on, on, upto))
        day += timedelta(days=1)


# The sheet "Báo cáo" ---------------------------------------------------------------------------------
def report_sheet(workbook: Workbook, report: FiledReport) -> None:
    """The report as it is filed, on the first sheet: heading, title, the three tables, signatures."""
    tables = [table for _, table in report.sections]
    columns = max(len(t.header) for t in tables)
    ws = workbook.create_sheet(report.sheet[:31])
    _print_setup(ws, None)  # the sheet's properties are written with its first row
    widths = [6, 40, 11, *[12] * (columns - 4), 24]  # the last: a village's report status
    for column, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(column)].width = width
    last = get_column_letter(columns)
    split = 3  # the issuing body over A–C, the national heading over D–last
    row = 0

    def line(left: object = None, right: object = None) -> None:
        nonlocal row
        row += 1
        cells: list[object] = [left] + [None] * (columns - 1)
        if right is not None:
            cells[split] = right
        ws.append(cells)
        if left is not None:
            ws.merged_cells.add(f"A{row}:{get_column_letter(split)}{row}")
        if right is not None:
            ws.merged_cells.add(f"{get_column_letter(split + 1)}{row}:{last}{row}")

    def across(text: str, font: Font, align: Alignment = CENTRE) -> None:
        nonlocal row
        row += 1
        ws.append([_cell(ws, text, font, align=align)])
        ws.merged_cells.add(f"A{row}:{last}{row}")

    line(_cell(ws, report.authority, R_PLAIN, align=CENTRE), _cell(ws, report.nation, R_BOLD, align=CENTRE))
    line(_cell(ws, report.issuer, R_BOLD, align=CENTRE), _cell(ws, report.motto, R_MOTTO, align=CENTRE))
    line(_cell(ws, report.number_line, R_PLAIN, align=CENTRE), _cell(ws, report.place_date, R_ITALIC, align=CENTRE))
    line()
    across(report.report_word, R_TITLE)
    across(report.title, R_BOLD)
    if report.scope_line:
        across(report.scope_line, R_BOLD)
    across(report.period_line, R_ITALIC)
    across(report.generated_line, R_ITALIC)
    header_rows = []
    for heading, table in report.sections:
        line()
        row += 1
        ws.append([_cell(ws, heading, R_BOLD)])
        ws.merged_cells.add(f"A{row}:{last}{row}")
        header_rows.append(row + 1)
        row = _table(ws, table, row, columns)
    line()
    (left_title, left_hint), (right_title, right_hint) = report.signers
    line(_cell(ws, left_title, R_BOLD, align=CENTRE), _cell(ws, right_title, R_BOLD, align=CENTRE))
    line(_cell(ws, left_hint, R_ITALIC, align=CENTRE), _cell(ws, right_hint, R_ITALIC, align=CENTRE))
    ws.print_title_rows = f"{header_rows[1]}:{header_rows[1]}"  # the villages' table is the one that runs long


def _table(ws: WriteOnlyWorksheet, table: Table, row: int, columns: int) -> int:
    """A boxed table from ``row + 1``; its last column stretches to ``columns``. The last row written."""
    width = len(table.header)

    def cells(values: list[object], font: Font, header: bool = False) -> list[object]:
        out: list[object] = []
        for index, value in enumerate(values):
            align = WRAP if index in table.left and not header else CENTRE
            out.append(_cell(ws, value, font, header=header, align=align, border=True))
        out += [_cell(ws, None, font, header=header, border=True) for _ in range(columns - width)]
        return out

    for number, values in enumerate([table.header, *table.rows]):
        header = number == 0
        font = R_BOLD if header or (number - 1) in table.bold_rows else R_PLAIN
        if header:  # a row's height goes before the row: two lines of a wrapped header
            ws.row_dimensions[row + 1].height = 32
        ws.append(cells(values, font, header))
        row += 1
        if width < columns:
            ws.merged_cells.add(f"{get_column_letter(width)}{row}:{get_column_letter(columns)}{row}")
    return row


# The other sheets ------------------------------------------------------------------------------------
def _service_sheets(workbook: Workbook, tally: Tally, days: list[DayTotal], content: Content, tz: ZoneInfo,
                    commune: Unit | None) -> None:
    parts = buckets(tally.period)
    by_bucket = bucketed(days, parts)
    names = [bucket_label(content.texts, p) for p in parts]
    for code in tally.services:
        service = content.catalogue.get(code)
        assert service is not None
        head = [_t(content, "export.village"), *names, _t(content, "export.total")]
        unit_line = _t(content, "export.service_line", unit=tally.scope.name, service=service.label,
                       counts=unit_of(content, code, commune)[1].lower())
        ws = _sheet(workbook, service.short, tally, content, tz, head, [24, *[13] * len(names), 10], unit_line)
        totals = [0] * len(parts)
        for village in tally.villages:
            values = [by_bucket.get((village.unit.id, code, i), 0) for i in range(len(parts))]
            totals = [a + b for a, b in zip(totals, values, strict=True)]
            ws.append([village.unit.name, *values, sum(values)])
        ws.append([_cell(ws, v, BOLD) for v in [total_name(content, tally), *totals, sum(totals)]])


def _targets_sheet(workbook: Workbook, tally: Tally, content: Content, tz: ZoneInfo, commune: Unit | None) -> None:
    """Per village and service with a target: the year's target, since 1 January, the rate (one line each)."""
    lines = []
    for village in tally.villages:
        for code in tally.services:
            cover = tally.coverage(code, [village])
            if cover is not None:
                service = content.catalogue.get(code)
                assert service is not None
                lines.append([village.unit.name, service.label, unit_of(content, code, commune)[1], cover.target,
                              cover.helped, cover.percent_of_target])
    if not lines:
        return
    head = [_t(content, key) for key in ("export.village", "export.service", "export.col_unit",
                                         "export.col_year_target", "export.col_year_to_date", "export.col_rate")]
    ws = _sheet(workbook, _t(content, "export.targets_sheet"), tally, content, tz, head, [24, 34, 11, 13, 13, 10])
    for values in lines:
        ws.append(values)


def _detail_sheets(workbook: Workbook, tally: Tally, rows: Iterator[DetailRow], content: Content,
                   tz: ZoneInfo) -> None:
    head = [_t(content, key) for key in ("export.report_number", "export.date", "export.village", "export.service",
                                         "export.count", "export.source", "export.reporter",
                                         "export.entered_by", "export.status_col", "export.void_reason",
                                         "export.voided_by", "export.note", "export.recorded_at")]
    widths = [8, 12, 22, 22, 9, 24, 22, 22, 10, 26, 22, 16, 17]
    title = _t(content, "export.detail_sheet")
    labels = {s.code: s.short for s in content.catalogue.services}
    labels[NONE_SERVICE] = _t(content, "zero.label")
    texts = {key: _t(content, f"export.{key}") for key in ("source_buttons", "source_text", "source_proxy",
                                                            "status_void", "status_live", "void_by_member",
                                                            "no_name")}
    ws = _sheet(workbook, title, tally, content, tz, head, widths)
    used, sheets = TITLE_ROWS + 2, 1
    for report in rows:
        if used == export_rows.MAX_SHEET_ROWS:  # Excel's last row: the detail goes on in "Chi tiết (2)"
            sheets += 1
            ws = _sheet(workbook, f"{title} ({sheets})", tally, content, tz, head, widths)
            used = TITLE_ROWS + 2
        ws.append(_detail_line(ws, report, content, tz, labels, texts))
        used += 1


def _detail_line(ws: WriteOnlyWorksheet, report: DetailRow, content: Content, tz: ZoneInfo, labels: dict[str, str],
                 texts: dict[str, str]) -> list[object]:
    """One report row in words: its number as ``/gannhat`` shows it, who it is for and who typed it
    (left empty when it is the member). An empty cell is not written: ~0.2 ms of openpyxl a row."""
    reporter = report.member_name or texts["no_name"]
    typed_by = (report.entered_by_name or texts["no_name"]) if report.entered_by not in (None, report.member_id) else (
        None)
    if report.source == "proxy":
        source = (_t(content, "export.source_proxy_by", name=report.entered_by_name or texts["no_name"])
                  if report.entered_by is not None else texts["source_proxy"])
    else:
        source = texts.get(f"source_{report.source}", texts["source_text"])
    reason = texts["void_by_member"] if report.void_reason == MEMBER_UNDO else report.void_reason or None
    note = _t(content, "export.corrected_from", id=report.supersedes) if report.supersedes else None
    return [
        report.report_id, _cell(ws, report.occurred_on, number_format="DD/MM/YYYY"), report.village,
        labels.get(report.service, report.service), report.count, source, reporter, typed_by,
        texts["status_void" if report.voided_at else "status_live"], reason,
        (report.voided_by_name or texts["no_name"]) if report.voided_at else None, note,
        _cell(ws, report.created_at.astimezone(tz).replace(tzinfo=None), number_format="DD/MM/YYYY HH:MM"),
    ]

