"""What an export is made of and how it is read: shared by the XLSX writer (``export_xlsx``),
the Word writer (``export_docx``), both imported only when a file is built, and the CSV (``export``)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.content import Content
from bot.domain.messages import plain_text
from bot.domain.tally import Tally
from bot.services.cycle import TeamFigures, VillageStatus, team_figures, village_status
from bot.services.tallies import build_tally
from storage import ReadSnapshot, SnapshotSource
from storage.models import Unit

TITLE_ROWS = 4  # title, unit, period, generated at; then a blank row, then the header
MAX_SHEET_ROWS = 1_048_576  # Excel's limit: a longer detail goes on in another sheet
MEMBER_UNDO = "member_undo"  # the void reason of a member's own undo (bot/flows/undo.py)


@dataclass(frozen=True)
class ExportData:
    tally: Tally  # the tally of the chat answer (what to read: scope, period, services, moment)
    snapshot: SnapshotSource  # where the file reads its figures (plain data: it may go to another process)


@dataclass(frozen=True)
class Filed:
    """What a file shows, read at one moment: the tally (with the figures since 1 January),
    each village's state and the team figures (``bot/services/cycle.py``, as ``/thang`` reads them)
    and the commune the heading names."""

    tally: Tally
    statuses: list[VillageStatus]  # each village's state in the cycle, as /thang reads it
    team: TeamFigures
    commune: Unit | None


def _t(content: Content, key: str, **params: object) -> str:
    return plain_text(content.texts(key, **params))


def read_filed(snapshot: ReadSnapshot, requested: Tally) -> Filed:
    """The report's figures, read in ``snapshot`` (never in the command's unit of work)."""
    tally = snapshot.run(lambda uow: build_tally(uow, requested.scope, requested.period, requested.services,
                                                 requested.generated_at, year_to_date=True,
                                                 counts=requested.units))
    scope = tally.scope
    statuses = snapshot.run(lambda uow: village_status(uow, scope, tally.period))
    team = snapshot.run(lambda uow: team_figures(uow, scope, tally.period, statuses))

    async def commune_of(uow) -> Unit | None:  # type: ignore[no-untyped-def]
        if scope.kind == "commune":
            return scope
        return await uow.units.get(scope.parent_id) if scope.kind == "village" and scope.parent_id else None

    return Filed(tally, statuses, team, snapshot.run(commune_of))
