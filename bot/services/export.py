"""The commune report as XLSX (openpyxl), Word (python-docx) or CSV, from the same tally as the chat.

The XLSX opens on "Báo cáo", the report as it is filed (``export_report``: heading, indicator
table, villages, team figures, signatures); then one sheet per service over time (days, weeks
or months of the period), the targets per village, and the detail of every report row
(voided ones marked, proxy reports with who entered them). The Word document is the same
report, to sign and file; the CSV is its indicator and village tables. No resident data
exists to export: reports are counts.

At scale (issue 11: a year of 1M reports) the file is built without holding the database
and in bounded memory: :func:`gather` (inside the command's unit of work) only keeps the
tally of the chat answer and where to read (a :data:`storage.SnapshotSource`);
:func:`to_xlsx`, run after the commit, reads what the file shows on a read-only connection
of its own (WAL readers neither wait for the writer nor block it), and
writes it with openpyxl's write-only workbook, which streams rows to a temporary file instead
of keeping cells in memory. The summary and the sheets per service are read at one moment; the
detail lists the rows that existed then (by id), a day at a time, each day in a short read
transaction, so the WAL is checkpointed as usual while the file is built (a report voided
meanwhile shows as voided in the detail). openpyxl costs about 0.2 ms of Python per detail
row, so a file of more than :data:`ISOLATED_ROWS` rows is built in a process of its own
(spawned): minutes of CPU there (a year of 1M rows) do not take the interpreter lock from the bot.
The writers (``export_xlsx.py``, ``export_docx.py``) are imported when a file is built: importing openpyxl
takes ~300 ms, which the first ``/xuat`` after a start spent inside its unit of work, in the
database thread (bench/heavy.py: a member's message waited for it).
"""

from __future__ import annotations

import csv
import io
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.content import Content, load_content
from bot.domain.tally import Tally
from bot.services.export_report import filed_report
from bot.services.export_rows import ExportData, read_filed
from storage import UnitOfWork

ISOLATED_ROWS = 20_000  # a file with more report rows is built in a process of its own (a few seconds here)


async def gather(uow: UnitOfWork, tally: Tally) -> ExportData:
    """What the export needs from the command's unit of work: nothing is read here."""
    return ExportData(tally, uow.snapshot)


def export_filename(tally: Tally, extension: str) -> str:
    return f"baocao_{tally.scope.code}_{tally.period.key}.{extension}"


def to_xlsx(data: ExportData, content: Content, tz: ZoneInfo) -> bytes:
    """The XLSX file, read from one snapshot and streamed; a big one in a process of its own."""
    if sum(v.reports for v in data.tally.villages) <= ISOLATED_ROWS:
        return write_xlsx(data, content, tz)
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as worker:
        return worker.submit(_write_xlsx_in_child, data, str(content.directory), tz).result()


def _write_xlsx_in_child(data: ExportData, content_dir: str, tz: ZoneInfo) -> bytes:
    return write_xlsx(data, load_content(Path(content_dir)), tz)


def write_xlsx(data: ExportData, content: Content, tz: ZoneInfo) -> bytes:
    """The XLSX file, built here (``bot/export_xlsx.py``)."""
    from bot.services.export_xlsx import write_xlsx as write

    return write(data, content, tz)


def to_docx(data: ExportData, content: Content, tz: ZoneInfo) -> bytes:
    """The report as a Word document (``bot/services/export_docx.py``), read from one snapshot."""
    from bot.services.export_docx import write_docx

    return write_docx(data, content, tz)


def to_csv(data: ExportData, content: Content, tz: ZoneInfo) -> bytes:
    """The report's indicator and village tables as CSV (UTF-8 with BOM, so spreadsheet programs
    read the diacritics), read from one snapshot; a blank line between the tables."""
    with data.snapshot() as snapshot:
        filed = read_filed(snapshot, data.tally)
    report = filed_report(content, filed.tally, filed.statuses, filed.team, filed.commune, tz)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for index, (title, table) in enumerate(report.sections[:2]):
        if index:
            writer.writerow([])
        writer.writerow([title])
        writer.writerow(table.header)
        writer.writerows(table.rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


MIME = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "csv": "text/csv"}


def to_file(data: ExportData, content: Content, tz: ZoneInfo, kind: str) -> bytes:
    """The file of ``kind`` (xlsx, docx or csv)."""
    if kind == "docx":
        return to_docx(data, content, tz)
    if kind == "csv":
        return to_csv(data, content, tz)
    return to_xlsx(data, content, tz)
