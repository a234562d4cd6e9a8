"""The XLSX writer of ``bot/export.py`` (openpyxl's write-only workbook, streamed from a read
snapshot): imported only when a file is built, never inside a command's unit of work."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from bot.content import Content
from bot.domain.messages import plain_text
from bot.domain.reports import NONE_SERVICE
from bot.domain.tally import Bucket, Tally, bucketed, buckets, long_day, period_label, short_day
from bot.services import export_rows
from bot.services.export_rows import MEMBER_UNDO, TITLE_ROWS, ExportData, _t, summary_rows
from bot.services.tallies import build_tally
from storage import ReadSnapshot
from storage.models import DayTotal, DetailRow

HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=13)


def _cell(ws: WriteOnlyWorksheet, value: object, font: Font | None = None, number_format: str | None = None,
          header: bool = False) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=value)
    if font is not None:
        cell.font = font
    if number_format is not None:
        cell.number_format = number_format
    if header:
        cell.font, cell.fill = BOLD, HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    return cell


def _sheet(workbook: Workbook, title: str, tally: Tally, content: Content, tz: ZoneInfo, labels: list[str],
           widths: list[int], unit: str | None = None) -> WriteOnlyWorksheet:
    """A new write-only sheet with its title block and header row (row ``TITLE_ROWS + 2``)."""
    ws = workbook.create_sheet(title[:31])
    for column, width in enumerate(widths, start=1):  # column widths and panes go before the first row
        ws.column_dimensions[get_column_letter(column)].width = width
    header_row = TITLE_ROWS + 2
    ws.freeze_panes = f"B{header_row + 1}"
    period = tally.period
    lines = [
        _t(content, "export.title"),
        unit or _t(content, "export.unit_line", unit=tally.scope.name),
        _t(content, "export.period_line", period=plain_text(period_label(content.texts, period)),
           start=long_day(period.start), end=long_day(period.end)),
        _t(content, "export.generated_line", at=tally.generated_at.astimezone(tz).strftime("%H:%M %d/%m/%Y")),
    ]
    last = get_column_letter(max(len(labels), 1))
    for index, text in enumerate(lines, start=1):
        ws.append([_cell(ws, text, TITLE if index == 1 else BOLD)])
        ws.merged_cells.add(f"A{index}:{last}{index}")
    ws.append([])
    ws.append([_cell(ws, label, header=True) for label in labels])
    return ws


def _bucket_label(content: Content, part: Bucket) -> str:
    if part.kind == "day":
        return _t(content, "chart.day_label", day=short_day(part.start))
    if part.kind == "week":
        return _t(content, "chart.week_label", start=short_day(part.start), end=short_day(part.end))
    return _t(content, "chart.month_label", month=part.start.month, year=part.start.year)


def write_xlsx(data: ExportData, content: Content, tz: ZoneInfo) -> bytes:
    """The XLSX file, built here: read from one snapshot and streamed (see the module's docstring)."""
    requested = data.tally
    with data.snapshot() as snapshot:
        tally = snapshot.run(lambda uow: build_tally(uow, requested.scope, requested.period, requested.services,
                                                     requested.generated_at))
        scope, period = tally.scope, tally.period
        days = snapshot.run(lambda uow: uow.tallies.daily(scope.kind, scope.id, period.start, period.end))
        upto = snapshot.run(lambda uow: uow.tallies.last_report_id())
        workbook = Workbook(write_only=True)
        _summary_sheet(workbook, tally, content, tz)
        _service_sheets(workbook, tally, days, content, tz)
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


def _summary_sheet(workbook: Workbook, tally: Tally, content: Content, tz: ZoneInfo) -> None:
    header, rows = summary_rows(tally, content)
    ws = _sheet(workbook, _t(content, "export.summary_sheet"), tally, content, tz, header,
                [24, 10, *[12] * (len(header) - 2)])
    for offset, values in enumerate(rows, start=1):
        ws.append([_cell(ws, v, BOLD) for v in values] if offset == len(rows) else values)


def _service_sheets(workbook: Workbook, tally: Tally, days: list[DayTotal], content: Content, tz: ZoneInfo) -> None:
    parts = buckets(tally.period)
    by_bucket = bucketed(days, parts)
    names = [_bucket_label(content, p) for p in parts]
    for code in tally.services:
        service = content.catalogue.get(code)
        assert service is not None
        head = [_t(content, "export.village"), *names, _t(content, "export.total")]
        unit_line = f"{_t(content, 'export.unit_line', unit=tally.scope.name)} – {service.label}"
        ws = _sheet(workbook, service.short, tally, content, tz, head, [24, *[11] * len(names), 10], unit_line)
        totals = [0] * len(parts)
        for village in tally.villages:
            values = [by_bucket.get((village.unit.id, code, i), 0) for i in range(len(parts))]
            totals = [a + b for a, b in zip(totals, values, strict=True)]
            ws.append([village.unit.name, *values, sum(values)])
        ws.append([_cell(ws, v, BOLD) for v in [_t(content, "export.commune_total"), *totals, sum(totals)]])


def _detail_sheets(workbook: Workbook, tally: Tally, rows: Iterator[DetailRow], content: Content,
                   tz: ZoneInfo) -> None:
    head = [_t(content, key) for key in ("export.date", "export.village", "export.service", "export.count",
                                         "export.source", "export.status", "export.void_reason",
                                         "export.reporter", "export.recorded_at")]
    widths = [12, 24, 22, 8, 12, 12, 16, 24, 17]
    title = _t(content, "export.detail_sheet")
    labels = {s.code: s.short for s in content.catalogue.services}
    labels[NONE_SERVICE] = _t(content, "zero.label")
    texts = {key: _t(content, f"export.{key}") for key in ("source_buttons", "source_text", "source_proxy",
                                                            "status_void", "status_live", "void_by_member")}
    ws = _sheet(workbook, title, tally, content, tz, head, widths)
    used, sheets = TITLE_ROWS + 2, 1
    for report in rows:
        if used == export_rows.MAX_SHEET_ROWS:  # Excel's last row: the detail goes on in "Chi tiết (2)"
            sheets += 1
            ws = _sheet(workbook, f"{title} ({sheets})", tally, content, tz, head, widths)
            used = TITLE_ROWS + 2
        reason = texts["void_by_member"] if report.void_reason == MEMBER_UNDO else report.void_reason or ""
        ws.append([
            _cell(ws, report.occurred_on, number_format="DD/MM/YYYY"), report.village,
            labels.get(report.service, report.service), report.count,
            texts.get(f"source_{report.source}", report.source),
            texts["status_void" if report.voided_at else "status_live"], reason, report.member_name or "",
            _cell(ws, report.created_at.astimezone(tz).replace(tzinfo=None), number_format="DD/MM/YYYY HH:MM"),
        ])
        used += 1
