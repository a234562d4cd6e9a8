"""The commune report as XLSX (openpyxl) or CSV, from the same :class:`Tally` as the chat.

Sheets: a summary (villages x services, totals, previous period, reported or not,
targets and coverage), one sheet per service over time (days, weeks or months of the
period), and the detail of every report row (voided ones marked). No resident data
exists to export: reports are counts.

At scale (issue 11: a year of 1M reports) the file is built without holding the database
and in bounded memory: :func:`gather` (inside the command's unit of work) only keeps the
tally of the chat answer and where to read (a :class:`storage.sqlite.SnapshotSource`);
:func:`to_xlsx`, run after the commit, reads what the file shows on a read-only connection
of its own (WAL readers neither wait for the writer nor block it), and
writes it with openpyxl's write-only workbook, which streams rows to a temporary file instead
of keeping cells in memory. The summary and the sheets per service are read at one moment; the
detail lists the rows that existed then (by id), a day at a time, each day in a short read
transaction, so the WAL is checkpointed as usual while the file is built (a report voided
meanwhile shows as voided in the detail). openpyxl costs about 0.2 ms of Python per detail
row, so a file of more than :data:`ISOLATED_ROWS` rows is built in a process of its own
(spawned): minutes of CPU there (a year of 1M rows) do not take the interpreter lock from the bot.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from bot.content import Content, load_content
from bot.handlers.plain import plain_text
from bot.tallies import Bucket, Tally, bucketed, buckets, build_tally, long_day, period_label, short_day
from storage import UnitOfWork
from storage.sqlite import ReadSnapshot, SnapshotSource
from storage.tallies import NONE_SERVICE, DayTotal, DetailRow

HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=13)
TITLE_ROWS = 4  # title, unit, period, generated at; then a blank row, then the header
MAX_SHEET_ROWS = 1_048_576  # Excel's limit: a longer detail goes on in another sheet
MEMBER_UNDO = "member_undo"  # the void reason of a member's own undo (bot/flows/undo.py)
ISOLATED_ROWS = 20_000  # a file with more report rows is built in a process of its own (a few seconds here)

@dataclass(frozen=True)
class ExportData:
    tally: Tally  # the tally of the chat answer (the CSV is this table)
    snapshot: SnapshotSource  # where the XLSX reads its figures (plain data: it may go to another process)


async def gather(uow: UnitOfWork, tally: Tally) -> ExportData:
    """What the export needs from the command's unit of work: nothing is read here."""
    return ExportData(tally, uow.snapshot)


def export_filename(tally: Tally, extension: str) -> str:
    return f"baocao_{tally.scope.code}_{tally.period.key}.{extension}"


def _t(content: Content, key: str, **params: object) -> str:
    return plain_text(content.texts(key, **params))


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


def summary_rows(tally: Tally, content: Content) -> tuple[list[str], list[list[object]]]:
    """The summary table (header, rows with the commune total last): shared by XLSX and CSV."""
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
    """The XLSX file, read from one snapshot and streamed; a big one in a process of its own."""
    if sum(v.reports for v in data.tally.villages) <= ISOLATED_ROWS:
        return write_xlsx(data, content, tz)
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as worker:
        return worker.submit(_write_xlsx_in_child, data, str(content.directory), tz).result()


def _write_xlsx_in_child(data: ExportData, content_dir: str, tz: ZoneInfo) -> bytes:
    return write_xlsx(data, load_content(Path(content_dir)), tz)


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
        if used == MAX_SHEET_ROWS:  # Excel's last row: the detail goes on in "Chi tiết (2)"
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


def to_csv(data: ExportData, content: Content) -> bytes:
    """The summary table as CSV (UTF-8 with BOM, so spreadsheet programs read the diacritics)."""
    header, rows = summary_rows(data.tally, content)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
