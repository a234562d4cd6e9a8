"""The commune report as rows and what an export is made of: shared by the XLSX writer
(``export_xlsx``, imported only when a file is built) and the CSV (``export``)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.content import Content
from bot.domain.messages import plain_text
from bot.domain.tally import Tally
from storage import SnapshotSource

TITLE_ROWS = 4  # title, unit, period, generated at; then a blank row, then the header
MAX_SHEET_ROWS = 1_048_576  # Excel's limit: a longer detail goes on in another sheet
MEMBER_UNDO = "member_undo"  # the void reason of a member's own undo (bot/flows/undo.py)


@dataclass(frozen=True)
class ExportData:
    tally: Tally  # the tally of the chat answer (the CSV is this table)
    snapshot: SnapshotSource  # where the XLSX reads its figures (plain data: it may go to another process)


def _t(content: Content, key: str, **params: object) -> str:
    return plain_text(content.texts(key, **params))


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
