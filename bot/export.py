"""The commune report as XLSX (openpyxl) or CSV, from the same :class:`Tally` as the chat.

Sheets: a summary (villages x services, totals, previous period, reported or not,
targets and coverage), one sheet per service over time (days, weeks or months of the
period), and the detail of every report row (voided ones marked). No resident data
exists to export: reports are counts.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from bot.content import Content
from bot.handlers.plain import plain_text
from bot.tallies import Bucket, Tally, bucketed, buckets, long_day, period_label, short_day
from storage import UnitOfWork
from storage.tallies import NONE_SERVICE, DayTotal, DetailRow

HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=13)
TITLE_ROWS = 4  # title, unit, period, generated at; then a blank row, then the header


@dataclass(frozen=True)
class ExportData:
    tally: Tally
    days: list[DayTotal]
    detail: list[DetailRow]


async def gather(uow: UnitOfWork, tally: Tally) -> ExportData:
    scope, period = tally.scope, tally.period
    days = await uow.tallies.daily(scope.kind, scope.id, period.start, period.end)
    detail = await uow.tallies.detail(scope.kind, scope.id, period.start, period.end)
    return ExportData(tally, days, detail)


def export_filename(tally: Tally, extension: str) -> str:
    return f"baocao_{tally.scope.code}_{tally.period.key}.{extension}"


def _t(content: Content, key: str, **params: object) -> str:
    return plain_text(content.texts(key, **params))


def _title(ws: Worksheet, data: ExportData, content: Content, tz: ZoneInfo, width: int) -> int:
    tally = data.tally
    period = tally.period
    generated = tally.generated_at.astimezone(tz).strftime("%H:%M %d/%m/%Y")
    rows = [
        _t(content, "export.title"),
        _t(content, "export.unit_line", unit=tally.scope.name),
        _t(content, "export.period_line", period=plain_text(period_label(content.texts, period)),
           start=long_day(period.start), end=long_day(period.end)),
        _t(content, "export.generated_line", at=generated),
    ]
    for index, text in enumerate(rows, start=1):
        ws.cell(row=index, column=1, value=text).font = TITLE if index == 1 else BOLD
        ws.merge_cells(start_row=index, start_column=1, end_row=index, end_column=max(width, 1))
    return TITLE_ROWS + 2  # the header row


def _header(ws: Worksheet, row: int, labels: list[str], widths: list[int]) -> None:
    for column, (label, width) in enumerate(zip(labels, widths, strict=True), start=1):
        cell = ws.cell(row=row, column=column, value=label)
        cell.font, cell.fill = BOLD, HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        ws.column_dimensions[get_column_letter(column)].width = width
    ws.freeze_panes = ws.cell(row=row + 1, column=2)


def summary_rows(data: ExportData, content: Content) -> tuple[list[str], list[list[object]]]:
    """The summary table (header, rows with the commune total last): shared by XLSX and CSV."""
    tally = data.tally
    catalogue = content.catalogue
    labels = {code: catalogue.get(code).short for code in tally.services}  # type: ignore[union-attr]
    targeted = [code for code in tally.services if tally.coverage(code) is not None]
    header = [_t(content, "export.village"), _t(content, "export.households"),
              *[labels[c] for c in tally.services], _t(content, "export.total"),
              _t(content, "export.previous_total"), _t(content, "export.reported")]
    for code in targeted:
        header += [_t(content, "export.target", service=labels[code]),
                   _t(content, "export.helped_year", service=labels[code]),
                   _t(content, "export.coverage", service=labels[code])]
    rows: list[list[object]] = []
    for village in tally.villages:
        status = ("export.reported_no" if not village.reported
                  else "export.reported_zero" if village.total == 0 else "export.reported_yes")
        row: list[object] = [village.unit.name, village.unit.households,
                             *[village.current.get(c, 0) for c in tally.services],
                             village.total, village.previous_total, _t(content, status)]
        for code in targeted:
            cover = tally.coverage(code, [village])
            row += [cover.target, cover.helped, cover.percent_of_target] if cover else [None, None, None]
        rows.append(row)
    households = [v.unit.households for v in tally.villages if v.unit.households is not None]
    reported = sum(1 for v in tally.villages if v.reported)
    total: list[object] = [_t(content, "export.commune_total") if tally.scope.kind != "village" else tally.scope.name,
                           sum(households) if households else None,
                           *[tally.service_total(c) for c in tally.services],
                           tally.total, tally.previous_total, f"{reported}/{len(tally.villages)}"]
    for code in targeted:
        cover = tally.coverage(code)
        assert cover is not None
        total += [cover.target, cover.helped, cover.percent_of_target]
    rows.append(total)
    return header, rows


def _bucket_label(content: Content, part: Bucket) -> str:
    if part.kind == "day":
        return _t(content, "chart.day_label", day=short_day(part.start))
    if part.kind == "week":
        return _t(content, "chart.week_label", start=short_day(part.start), end=short_day(part.end))
    return _t(content, "chart.month_label", month=part.start.month, year=part.start.year)


def to_xlsx(data: ExportData, content: Content, tz: ZoneInfo) -> bytes:
    tally = data.tally
    catalogue = content.catalogue
    workbook = Workbook()
    ws = workbook.active
    assert ws is not None
    ws.title = _t(content, "export.summary_sheet")
    header, rows = summary_rows(data, content)
    row = _title(ws, data, content, tz, len(header))
    _header(ws, row, header, [24, 10, *[12] * (len(header) - 2)])
    for offset, values in enumerate(rows, start=1):
        for column, value in enumerate(values, start=1):
            cell = ws.cell(row=row + offset, column=column, value=value)
            if offset == len(rows):
                cell.font = BOLD

    parts = buckets(tally.period)
    by_bucket = bucketed(data.days, parts)
    names = [_bucket_label(content, p) for p in parts]
    for code in tally.services:
        service = catalogue.get(code)
        assert service is not None
        sheet = workbook.create_sheet(service.short[:31])
        head = [_t(content, "export.village"), *names, _t(content, "export.total")]
        row = _title(sheet, data, content, tz, len(head))
        unit_line = _t(content, "export.unit_line", unit=tally.scope.name)
        sheet.cell(row=2, column=1).value = f"{unit_line} – {service.label}"
        _header(sheet, row, head, [24, *[11] * len(names), 10])
        totals = [0] * len(parts)
        for offset, village in enumerate(tally.villages, start=1):
            values = [by_bucket.get((village.unit.id, code, i), 0) for i in range(len(parts))]
            totals = [a + b for a, b in zip(totals, values, strict=True)]
            for column, value in enumerate([village.unit.name, *values, sum(values)], start=1):
                sheet.cell(row=row + offset, column=column, value=value)
        last = row + len(tally.villages) + 1
        for column, value in enumerate([_t(content, "export.commune_total"), *totals, sum(totals)], start=1):
            sheet.cell(row=last, column=column, value=value).font = BOLD

    detail = workbook.create_sheet(_t(content, "export.detail_sheet"))
    head = [_t(content, key) for key in ("export.date", "export.village", "export.service", "export.count",
                                         "export.source", "export.status", "export.void_reason",
                                         "export.reporter", "export.recorded_at")]
    row = _title(detail, data, content, tz, len(head))
    _header(detail, row, head, [12, 24, 22, 8, 12, 12, 16, 24, 17])
    for offset, report in enumerate(data.detail, start=1):
        service = catalogue.get(report.service)
        values: list[object] = [
            report.occurred_on, report.village,
            service.short if service else _t(content, "zero.label") if report.service == NONE_SERVICE
            else report.service,
            report.count,
            _t(content, f"export.source_{report.source}"),
            _t(content, "export.status_void" if report.voided_at else "export.status_live"),
            report.void_reason or "",
            report.member_name or "",
            report.created_at.astimezone(tz).replace(tzinfo=None),
        ]
        for column, value in enumerate(values, start=1):
            cell = detail.cell(row=row + offset, column=column, value=value)
            if column == 1:
                cell.number_format = "DD/MM/YYYY"
            elif column == 9:
                cell.number_format = "DD/MM/YYYY HH:MM"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def to_csv(data: ExportData, content: Content) -> bytes:
    """The summary table as CSV (UTF-8 with BOM, so spreadsheet programs read the diacritics)."""
    header, rows = summary_rows(data, content)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
