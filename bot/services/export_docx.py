"""The report as an editable Word document (python-docx), to sign and file: the same heading,
tables and signature blocks as the sheet "Báo cáo" (``export_report``). Imported only when a
file is built, never inside a command's unit of work.

A4 landscape, Times New Roman; each table's header row repeats on every page it runs onto.
"""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from docx.table import Table as DocxTable

from bot.content import Content
from bot.services.export_report import FiledReport, Table, filed_report
from bot.services.export_rows import ExportData, read_filed

SERIF = "Times New Roman"


def write_docx(data: ExportData, content: Content, tz: ZoneInfo) -> bytes:
    """The Word document, read from one snapshot."""
    with data.snapshot() as snapshot:
        filed = read_filed(snapshot, data.tally)
    return render_docx(filed_report(content, filed.tally, filed.statuses, filed.team, filed.commune, tz))


def render_docx(report: FiledReport) -> bytes:
    document = Document()
    normal = document.styles["Normal"]
    normal.font.name, normal.font.size = SERIF, Pt(12)
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), SERIF)
    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    section.left_margin = section.right_margin = Cm(2.0)
    section.top_margin = section.bottom_margin = Cm(1.5)

    heading = _plain_table(document, 1, (Cm(9.5), Cm(16.2)))
    _lines(heading.cell(0, 0), [(report.authority, {}), (report.issuer, {"bold": True}),
                                (report.number_line, {})])
    _lines(heading.cell(0, 1), [(report.nation, {"bold": True}), (report.motto, {"bold": True, "underline": True}),
                                (report.place_date, {"italic": True})])
    _paragraph(document, "")
    _paragraph(document, report.report_word, bold=True, size=14)
    _paragraph(document, report.title, bold=True)
    if report.scope_line:
        _paragraph(document, report.scope_line, bold=True)
    _paragraph(document, report.period_line, italic=True)
    _paragraph(document, report.generated_line, italic=True)
    for title, table in report.sections:
        _paragraph(document, "")
        _paragraph(document, title, bold=True, align=WD_ALIGN_PARAGRAPH.LEFT)
        _table(document, table)
    _paragraph(document, "")
    signatures = _plain_table(document, 6, (Cm(12.85), Cm(12.85)))
    for index, (title, hint) in enumerate(report.signers):
        _lines(signatures.cell(0, index), [(title, {"bold": True}), (hint, {"italic": True})])
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _paragraph(document, text: str, bold: bool = False, italic: bool = False, size: int | None = None,  # type: ignore[no-untyped-def]
               align: int = WD_ALIGN_PARAGRAPH.CENTER) -> None:
    paragraph = document.add_paragraph()
    paragraph.alignment = align
    paragraph.paragraph_format.space_after = Pt(2)
    run = paragraph.add_run(text)
    run.bold, run.italic = bold, italic
    if size:
        run.font.size = Pt(size)


def _plain_table(document, rows: int, widths: tuple[object, object]) -> DocxTable:  # type: ignore[no-untyped-def]
    """A table without borders, to place two blocks side by side (``rows``: blank lines under them)."""
    table = document.add_table(rows=1, cols=2)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for index, width in enumerate(widths):
        table.columns[index].width = width
        table.cell(0, index).width = width
    for _ in range(rows - 1):
        table.add_row()
    return table


def _lines(cell, lines: list[tuple[str, dict[str, bool]]]) -> None:  # type: ignore[no-untyped-def]
    cell.paragraphs[0].text = ""
    for index, (text, style) in enumerate(lines):
        paragraph = cell.paragraphs[0] if index == 0 else cell.add_paragraph()
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        paragraph.paragraph_format.space_after = Pt(0)
        run = paragraph.add_run(text)
        run.bold, run.italic, run.underline = style.get("bold", False), style.get("italic", False), style.get(
            "underline", False)


PAGE_WIDTH_CM = 25.7  # A4 landscape less the margins
NUMBER_CM, NAME_CM = 1.4, 5.5


def _widths(table: Table) -> list[float]:
    """STT narrow, the names wide, a note wider, the figures share the rest."""
    count = len(table.header)
    wide = {1: NAME_CM, **{i: NAME_CM for i in table.left if i != 1}}
    rest = (PAGE_WIDTH_CM - NUMBER_CM - sum(wide.values())) / max(count - 1 - len(wide), 1)
    return [NUMBER_CM if i == 0 else wide.get(i, rest) for i in range(count)]


def _table(document, table: Table) -> None:  # type: ignore[no-untyped-def]
    out = document.add_table(rows=1 + len(table.rows), cols=len(table.header))
    out.style = "Table Grid"
    out.alignment = WD_TABLE_ALIGNMENT.CENTER
    out.autofit = False
    grid = out._tbl.tblGrid.findall(qn("w:gridCol"))  # what LibreOffice reads; Word reads the cells'
    for index, width in enumerate(_widths(table)):
        grid[index].set(qn("w:w"), str(Cm(width).twips))
        for cell in out.columns[index].cells:
            cell.width = Cm(width)
    header = out.rows[0]
    _repeat_header(header)
    for row_index, values in enumerate([table.header, *table.rows]):
        bold = row_index == 0 or (row_index - 1) in table.bold_rows
        for column, value in enumerate(values):
            cell = out.cell(row_index, column)
            paragraph = cell.paragraphs[0]
            text = "" if value is None else str(value)
            run = paragraph.add_run(text)
            run.bold = bold
            run.font.size = Pt(11)
            if row_index == 0 or column not in table.left:
                paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER


def _repeat_header(row) -> None:  # type: ignore[no-untyped-def]
    """Word repeats a row marked ``tblHeader`` at the top of every page the table runs onto."""
    properties = row._tr.get_or_add_trPr()
    mark = OxmlElement("w:tblHeader")
    mark.set(qn("w:val"), "true")
    properties.append(mark)
