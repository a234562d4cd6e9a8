"""The report as it is filed (issue 13): what the sheet "Báo cáo" of the XLSX, the Word
document and the CSV show, built once from the tally and the team figures, so the three
(and the chat's ``/thang``) always carry the same numbers.

Laid out as a Vietnamese administrative report (Decree 30/2020): the issuing body top left
(UBND of the commune, the issuer, the number line), the national heading top right with the
place and date, the title with the period and its dates (once), then the indicator table
(``STT | Chỉ tiêu | Đơn vị tính | Chỉ tiêu năm | Kết quả kỳ này | Lũy kế từ đầu năm | Tỷ lệ (%) |
Ghi chú``), the table per village, the team figures and the two signature blocks.

Each village's status (confirmed on time / late / reports but not confirmed / silent) and the
team figures are :func:`bot.services.cycle.village_status` and :func:`~bot.services.cycle.team_figures`,
read in the export's snapshot (``export_rows.read_filed``): what ``/thang`` shows staff, so the
chat and the filed report never disagree. Pure once those are read; no openpyxl or
python-docx here: the writers import those when a file is built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.content import Content
from bot.domain.messages import plain_text
from bot.domain.tally import Tally, VillageTally, long_day
from bot.domain.textutil import fold
from bot.services.cycle import STATES, TeamFigures, VillageStatus
from storage.models import Unit

# What a village's line says about its report (export.status.<code>): its state in the cycle,
# or "hidden" for a village staff hid (its reports still count; the cycle does not follow it).
HIDDEN = "hidden"
STATUS_CODES = (*STATES, HIDDEN)


def total_name(content: Content, tally: Tally) -> str:
    """The name of a table's last row: the whole commune, or the whole province."""
    if tally.scope.kind == "province":
        return _t(content, "export.province_total")
    return _t(content, "export.commune_total")


def _t(content: Content, key: str, **params: object) -> str:
    return plain_text(content.texts(key, **params))


def unit_of(content: Content, service: str, commune: Unit | None) -> tuple[str, str]:
    """What ``service`` counts in ``commune``: (kind, "Đơn vị tính" name), as the catalogue
    says (``content/services.yaml``: counts, units)."""
    code = commune.code if commune is not None else None
    return content.catalogue.unit_of(service, code), content.catalogue.unit_name(service, code)


def status_code(statuses: Mapping[int, VillageStatus], village: VillageTally) -> str:
    found = statuses.get(village.unit.id)
    return found.state if found is not None else HIDDEN


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[object]]
    bold_rows: frozenset[int] = frozenset()  # indexes of the rows in bold (totals)
    left: frozenset[int] = frozenset({1})  # the columns of words, aligned left (the others are centred)


@dataclass(frozen=True)
class FiledReport:
    sheet: str  # the XLSX sheet's name: "Báo cáo"
    authority: str  # "UBND XÃ MỸ HIỆP"
    issuer: str
    number_line: str
    nation: str
    motto: str
    place_date: str
    report_word: str  # "BÁO CÁO"
    title: str
    scope_line: str  # "Đơn vị: Ấp Mỹ Thạnh" when one village is reported, else ""
    period_line: str  # "Tháng 11 năm 2026 (từ ngày 01/11/2026 đến ngày 30/11/2026)"
    generated_line: str
    sections: list[tuple[str, Table]] = field(default_factory=list)  # (heading, table)
    signers: tuple[tuple[str, str], tuple[str, str]] = (("", ""), ("", ""))  # (title, hint) left, right

    @property
    def heading_lines(self) -> list[str]:
        return [self.authority, self.issuer, self.nation, self.motto, self.place_date]


def _commune_name(commune: Unit | None, tally: Tally) -> str:
    return commune.name if commune is not None else tally.scope.name


def _place(content: Content, name: str) -> str:
    """The place of the date line: the commune's name without its kind ("Xã Mỹ Hiệp" -> "Mỹ Hiệp")."""
    folded = fold(name)
    for word in sorted(content.tally.unit_words, key=len, reverse=True):
        if folded.startswith(fold(word) + " "):
            return name[len(word) + 1:].strip()
    return name


def _place_date(content: Content, place: str, at: datetime) -> str:
    """Decree 30: days below 10 and the months January and February take a leading zero."""
    return _t(content, "export.place_date", place=place, day=f"{at.day:02d}",
              month=f"{at.month:02d}" if at.month < 3 else str(at.month), year=at.year)


def period_name(content: Content, tally: Tally) -> str:
    """The period without its dates: "Tháng 11 năm 2026", "Quý 4 năm 2026", "Tuần 49 năm 2026"."""
    period = tally.period
    end = period.end
    if period.kind == "week":
        iso_year, iso_week, _ = period.start.isocalendar()
        return _t(content, "export.period_name.week", number=iso_week, year=iso_year)
    if period.kind == "month":
        return _t(content, "export.period_name.month", month=end.month, year=end.year)
    if period.kind == "cutoff":
        return _t(content, "export.period_name.cutoff", month=end.month, year=end.year)
    if period.kind == "quarter":
        return _t(content, "export.period_name.quarter", number=(end.month - 1) // 3 + 1, year=end.year)
    if period.kind == "half":
        key = "export.period_name.half" if end.month <= 6 else "export.period_name.half_second"
        return _t(content, key, year=end.year)
    return _t(content, "export.period_name.year", year=end.year)


def _units(content: Content, tally: Tally, commune: Unit | None) -> dict[str, tuple[str, str]]:
    return {code: unit_of(content, code, commune) for code in tally.services}


def indicator_table(content: Content, tally: Tally, commune: Unit | None) -> Table:
    """One line per service: the unit, the year's target, this period, since 1 January, the rate."""
    header = [_t(content, f"export.col_{k}") for k in ("number", "indicator", "unit", "year_target", "this_period",
                                                       "year_to_date", "rate", "note")]
    units = _units(content, tally, commune)
    rows: list[list[object]] = []
    for number, code in enumerate(tally.services, start=1):
        service = content.catalogue.get(code)
        assert service is not None
        cover = tally.coverage(code)
        ytd = sum(v.year_to_date.get(code, 0) for v in tally.villages)
        notes = [_t(content, "export.note_previous", value=tally.service_previous(code))]
        if cover is None:
            notes.append(_t(content, "export.note_no_target"))
        elif code not in tally.scope_targets and cover.villages < len(tally.villages):
            notes.append(_t(content, "export.note_partial_target", villages=cover.villages,
                            total=len(tally.villages)))
        rows.append([number, service.label, units[code][1], cover.target if cover else None,
                     tally.service_total(code), ytd, cover.percent_of_target if cover else None, "; ".join(notes)])
    kinds = list(dict.fromkeys(kind for kind, _ in units.values()))
    bold = set()
    for kind in kinds:  # totals never add different units together
        codes = [c for c in tally.services if units[c][0] == kind]
        name = next(units[c][1] for c in codes)
        label = (_t(content, "export.indicator_total") if len(kinds) == 1
                 else _t(content, "export.indicator_total_unit", unit=name))
        bold.add(len(rows))
        rows.append([None, label, name, None, sum(tally.service_total(c) for c in codes),
                     sum(v.year_to_date.get(c, 0) for v in tally.villages for c in codes), None,
                     _t(content, "export.note_previous", value=sum(tally.service_previous(c) for c in codes))])
    return Table(header, rows, frozenset(bold), frozenset({1, len(header) - 1}))


def village_table(content: Content, tally: Tally, commune: Unit | None,
                  statuses: Mapping[int, VillageStatus] | None = None) -> Table:
    """One line per village: its households, each service, the total (one per unit), its state in
    the cycle (``statuses``: :func:`bot.services.cycle.village_status` by village id)."""
    statuses = statuses or {}
    units = _units(content, tally, commune)
    kinds = list(dict.fromkeys(kind for kind, _ in units.values()))
    names = {kind: next(units[c][1] for c in tally.services if units[c][0] == kind) for kind in kinds}
    mixed = len(kinds) > 1
    labels = []
    for code in tally.services:
        short = content.catalogue.get(code).short  # type: ignore[union-attr]
        labels.append(_t(content, "export.service_in_unit", service=short, unit=units[code][1].lower()) if mixed
                      else short)
    totals = ([_t(content, "export.total")] if not mixed
              else [_t(content, "export.total_in_unit", unit=names[k].lower()) for k in kinds])
    header = [_t(content, "export.col_number"), _t(content, "export.village"), _t(content, "export.households"),
              *labels, *totals, _t(content, "export.col_status")]

    def sums(values: dict[str, int]) -> list[object]:
        return [sum(values.get(c, 0) for c in tally.services if units[c][0] == k) for k in kinds]

    rows: list[list[object]] = []
    for number, village in enumerate(tally.villages, start=1):
        rows.append([number, village.unit.name, village.unit.households,
                     *[village.current.get(c, 0) for c in tally.services], *sums(village.current),
                     _t(content, f"export.status.{status_code(statuses, village)}")])
    if tally.scope.kind == "village":  # one village: its line is the whole
        return Table(header, rows)
    households = [v.unit.households for v in tally.villages if v.unit.households is not None]
    confirmed = sum(1 for s in statuses.values() if s.confirmed)
    whole = {c: tally.service_total(c) for c in tally.services}
    rows.append([None, total_name(content, tally), sum(households) if households else None, *whole.values(),
                 *sums(whole), _t(content, "export.confirmed_out_of", value=confirmed, total=len(statuses))])
    return Table(header, rows, frozenset({len(rows) - 1}))


def team_table(content: Content, statuses: Sequence[VillageStatus], team: TeamFigures) -> Table:
    """The team figures and the villages by state, as ``/thang`` shows them to staff."""
    def names(state: str) -> str:
        return ", ".join(s.village.name for s in statuses if s.state == state)

    zero = sum(1 for s in statuses if s.reports and not any(s.figures.values()))
    lines: list[tuple[str, object, str]] = [
        (_t(content, "export.team_villages"), _t(content, "export.out_of", value=team.with_team, total=team.villages),
         _t(content, "export.team_no_team", names=", ".join(team.without_team)) if team.without_team else ""),
        (_t(content, "export.team_members"), team.members, ""),
        (_t(content, "export.team_active"), _t(content, "export.out_of", value=team.active, total=team.members), ""),
        (_t(content, "export.team_on_time"), team.on_time, ""),
        (_t(content, "export.team_late"), team.late, names("late")),
        (_t(content, "export.team_unconfirmed"), team.unconfirmed, names("unconfirmed")),
        (_t(content, "export.team_silent"), team.silent, names("silent")),
        (_t(content, "export.team_zero"), zero, ""),
    ]
    header = [_t(content, "export.col_number"), _t(content, "export.col_content"), _t(content, "export.col_figure"),
              _t(content, "export.col_note")]
    return Table(header, [[n, label, value, note] for n, (label, value, note) in enumerate(lines, start=1)],
                 left=frozenset({1, 3}))


def filed_report(content: Content, tally: Tally, statuses: Sequence[VillageStatus], team: TeamFigures,
                 commune: Unit | None, tz: ZoneInfo) -> FiledReport:
    """The report of ``tally`` as it is filed (``statuses`` and ``team``: the cycle's reading of
    the same scope and period; ``commune``: the tally's commune, for the heading)."""
    by_village = {s.village.id: s for s in statuses}
    name = _commune_name(commune, tally)
    at = tally.generated_at.astimezone(tz)
    period = tally.period
    return FiledReport(
        sheet=_t(content, "export.report_sheet"),
        authority=_t(content, "export.authority", commune=name.upper()),
        issuer=_t(content, "export.issuer"),
        number_line=_t(content, "export.number_line"),
        nation=_t(content, "export.nation"),
        motto=_t(content, "export.motto"),
        place_date=_place_date(content, _place(content, name), at),
        report_word=_t(content, "export.report_word"),
        title=_t(content, "export.report_title"),
        scope_line=_t(content, "export.report_scope", unit=tally.scope.name) if tally.scope.kind == "village" else "",
        period_line=_t(content, "export.period_line", period=period_name(content, tally),
                       start=long_day(period.start), end=long_day(period.end)),
        generated_line=_t(content, "export.generated_line", at=at.strftime("%H:%M %d/%m/%Y")),
        sections=[
            (_t(content, "export.section_indicators"), indicator_table(content, tally, commune)),
            (_t(content, "export.section_villages"), village_table(content, tally, commune, by_village)),
            (_t(content, "export.section_team"), team_table(content, statuses, team)),
        ],
        signers=((_t(content, "export.signer_left"), _t(content, "export.sign_hint_left")),
                 (_t(content, "export.signer_right"), _t(content, "export.sign_hint_right"))),
    )
