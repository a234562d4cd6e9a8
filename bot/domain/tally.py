"""The tally model: what was counted per village and service in a period (households, people
or sessions, as the catalogue says), the change against the previous period, coverage against
targets; and how its figures are written. Pure: built by ``bot.services.tallies.build_tally``
from storage.

Counts of different kinds are never added together (:meth:`Tally.totals` gives one total per
kind), and a target is only compared with counts of its own kind (:func:`target_value`)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.domain.catalogue import COUNTS, Counts, denominator
from bot.domain.periods import DEFAULT_CUTOFF_DAY, Period, PeriodScheme, month
from storage.models import DayTotal, Target, Unit

BAR_WIDTH = 10


BAR_FULL, BAR_EMPTY = "▓", "░"


class TallySettings(BaseModel):
    """``content/tally.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    periods: Literal["calendar", "cutoff"] = "calendar"
    periods_by_commune: dict[str, Literal["calendar", "cutoff"]] = Field(default_factory=dict)
    default_cutoff_day: int = Field(default=DEFAULT_CUTOFF_DAY, ge=2, le=28)
    cutoff_day_by_commune: dict[str, Annotated[int, Field(ge=2, le=28)]] = Field(default_factory=dict)
    max_message_chars: int = Field(default=3500, ge=500, le=4096)
    current_words: tuple[str, ...] = ()
    previous_words: tuple[str, ...] = ()
    kind_words: dict[str, Literal["week", "month", "quarter", "year", "cutoff"]] = Field(default_factory=dict)
    unit_words: tuple[str, ...] = ()
    format_words: dict[str, Literal["xlsx", "docx", "csv"]] = Field(default_factory=dict)  # /xuat ... word

    def cutoff_day(self, commune_code: str | None) -> int:
        return self.cutoff_day_by_commune.get(commune_code or "", self.default_cutoff_day)

    def scheme(self, commune_code: str | None) -> PeriodScheme:
        """How the commune counts: the one answer every deadline, tally and export uses."""
        kind = self.periods_by_commune.get(commune_code or "", self.periods)
        return PeriodScheme(kind == "cutoff", self.cutoff_day(commune_code))


@dataclass
class VillageTally:
    unit: Unit
    current: dict[str, int] = field(default_factory=dict)  # service -> households (catalogue codes only)
    previous: dict[str, int] = field(default_factory=dict)
    year_to_date: dict[str, int] = field(default_factory=dict)  # since 1 January, to the period's end
    targets: dict[str, Target] = field(default_factory=dict)
    reports: int = 0  # live report rows in the period, explicit zero reports included
    zero_reports: int = 0

    @property
    def reported(self) -> bool:
        """An explicit zero report counts as reported; silence does not."""
        return self.reports > 0

    @property
    def total(self) -> int:
        """Everything counted, of any kind: only for "nothing at all" checks, never shown."""
        return sum(self.current.values())

    @property
    def previous_total(self) -> int:
        return sum(self.previous.values())

    def totals(self, units: dict[str, Counts]) -> dict[Counts, int]:
        """Counted this period, per kind (only kinds some service counts in)."""
        return _per_kind(self.current, units)

    def previous_totals(self, units: dict[str, Counts]) -> dict[Counts, int]:
        return _per_kind(self.previous, units)


@dataclass
class CommuneTally(VillageTally):
    """A commune's villages summed, one line of a province's tally (``unit`` is the commune):
    ``reported`` means some village reported."""

    village_count: int = 0  # the commune's villages
    reported_villages: int = 0  # of them, those with a report in the period (an explicit zero included)


@dataclass(frozen=True)
class VillageSummary:
    """The villages behind a tally kept at commune grain (a province's, one line per commune):
    how many, how many reported, their households and adults summed (a village without the
    figure as 0), and those with targets of their own, with their figures since 1 January:
    all that the province's coverage reads of them."""

    count: int
    reported: int
    households: int
    adults: int
    targeted: tuple[VillageTally, ...] = ()


def _per_kind(values: dict[str, int], units: dict[str, Counts]) -> dict[Counts, int]:
    out: dict[Counts, int] = {}
    for service, value in values.items():
        kind = units.get(service, "households")
        out[kind] = out.get(kind, 0) + value
    return out


def target_value(target: Target, counts: Counts, households: int | None, adults: int | None) -> int | None:
    """The target as a number of ``counts`` (None when it cannot be one): a number as it is;
    a share of households only for a service counting households, a share of adults only for
    one counting people (a target set before a service changed kind compares nothing)."""
    if target.kind == "absolute":
        return round(target.value)
    wanted = {"households": "percent", "people": "percent_adults"}.get(counts)
    if target.kind != wanted:
        return None
    base = denominator(counts, households, adults)
    return round(target.value * base / 100) if base else None


@dataclass(frozen=True)
class TargetRefusal:
    """Why a target cannot be set: ``reason`` is ``adults_for_households`` (a share of adults
    for a service counting households), ``households_for_people``, ``share_of_sessions`` or
    ``beyond`` (more than the unit has: ``limit``)."""

    reason: str
    limit: int = 0


def fit_target(counts: Counts, parsed: tuple[str, float], said: Counts | None,
               households: int | None, adults: int | None) -> tuple[str, float] | TargetRefusal:
    """The (kind, value) to store for a target typed as ``parsed`` (:func:`parse_target`) for a
    service counting ``counts`` in a unit with these figures; ``said`` is the kind the person
    named after the value ("80% người": people), if any. A share is of the service's own
    denominator ("80%" of a people service is 80% of the adults)."""
    kind, value = parsed
    if said is not None and said != counts:
        return TargetRefusal("share_of_sessions" if counts == "sessions" else
                             "adults_for_households" if said == "people" else "households_for_people")
    if kind == "percent":
        if counts == "sessions":
            return TargetRefusal("share_of_sessions")
        return ("percent_adults" if counts == "people" else "percent"), value
    limit = denominator(counts, households, adults)
    if limit is not None and value > limit:
        return TargetRefusal("beyond", limit)
    return "absolute", value


@dataclass(frozen=True)
class Coverage:
    service: str
    helped: int  # counted this year, to the period's end, in villages with a target (in ``counts``)
    target: int  # the target as a number of ``counts``, summed over those villages
    denominator: int  # households or adults of those villages (0 for sessions: no share)
    villages: int
    counts: Counts = "households"

    @property
    def ratio(self) -> float:
        return self.helped / self.target if self.target else 0.0

    @property
    def percent_of_target(self) -> int:
        return round(100 * self.ratio)

    @property
    def target_percent_of_households(self) -> int | None:
        """The target as a share of the denominator (households or adults; None for sessions)."""
        return round(100 * self.target / self.denominator) if self.denominator else None


@dataclass
class Tally:
    """A scope's tally. At village grain ``villages`` holds one line per village; at commune
    grain (a province's chat answer, built by ``build_province_tally``) one
    :class:`CommuneTally` per commune, and ``summary`` says what coverage and "villages
    reported" need of the villages themselves. Totals are the same sums at either grain."""

    scope: Unit
    period: Period
    services: tuple[str, ...]
    villages: list[VillageTally]
    generated_at: datetime
    scope_targets: dict[str, Target] = field(default_factory=dict)  # targets set on the commune itself
    units: dict[str, Counts] = field(default_factory=dict)  # service -> what it counts (households if absent)
    summary: VillageSummary | None = None  # at commune grain: the villages behind the lines

    @property
    def village_count(self) -> int:
        """The scope's villages (at either grain)."""
        return self.summary.count if self.summary is not None else len(self.villages)

    @property
    def reported_count(self) -> int:
        """How many of them reported in the period (an explicit zero counts, silence does not)."""
        if self.summary is not None:
            return self.summary.reported
        return sum(1 for v in self.villages if v.reported)

    def unit_of(self, service: str) -> Counts:
        return self.units.get(service, "households")

    @property
    def kinds(self) -> tuple[Counts, ...]:
        """The kinds this tally's services count, in the catalogue's order of kinds."""
        used = {self.unit_of(code) for code in self.services}
        return tuple(kind for kind in COUNTS if kind in used)

    def totals(self) -> dict[Counts, int]:
        """Counted this period per kind, every kind of :attr:`kinds` present (0 if nothing)."""
        return self._summed("current")

    def previous_totals(self) -> dict[Counts, int]:
        return self._summed("previous")

    def _summed(self, which: str) -> dict[Counts, int]:
        out = {kind: 0 for kind in self.kinds}
        for village in self.villages:
            for kind, value in _per_kind(getattr(village, which), self.units).items():
                out[kind] = out.get(kind, 0) + value
        return out

    def service_total(self, service: str) -> int:
        return sum(v.current.get(service, 0) for v in self.villages)

    def service_previous(self, service: str) -> int:
        return sum(v.previous.get(service, 0) for v in self.villages)

    @property
    def total(self) -> int:
        """Everything counted, of any kind: only for "nothing at all" checks; show :meth:`totals`."""
        return sum(v.total for v in self.villages)

    @property
    def previous_total(self) -> int:
        return sum(v.previous_total for v in self.villages)

    @property
    def missing(self) -> list[Unit]:
        """The villages that have not reported (village grain only)."""
        if self.summary is not None:
            raise ValueError("a tally at commune grain does not list its villages")
        return [v.unit for v in self.villages if not v.reported]

    def coverage(self, service: str, villages: list[VillageTally] | None = None) -> Coverage | None:
        """Coverage over the villages that have a target for ``service`` (None if none has).

        A target set on the commune itself (not per village) covers all its villages."""
        counts = self.unit_of(service)
        whole = self.scope_targets.get(service)
        summary = self.summary
        if villages is None and whole is not None:
            if summary is not None:
                households, adults, count = summary.households, summary.adults, summary.count
            else:
                households = sum(v.unit.households or 0 for v in self.villages)
                adults = sum(v.unit.adults or 0 for v in self.villages)
                count = len(self.villages)
            goal = target_value(whole, counts, households, adults)
            if goal is not None:
                helped_all = sum(v.year_to_date.get(service, 0) for v in self.villages)
                return Coverage(service, helped_all, goal, denominator(counts, households, adults) or 0,
                                count, counts)
        if villages is None:
            villages = list(summary.targeted) if summary is not None else self.villages
        helped = target = base = count = 0
        for village in villages:
            goal = village.targets.get(service)
            value = target_value(goal, counts, village.unit.households, village.unit.adults) if goal else None
            if value is None:
                continue
            helped += village.year_to_date.get(service, 0)
            target += value
            base += denominator(counts, village.unit.households, village.unit.adults) or 0
            count += 1
        if not count:
            return None
        return Coverage(service, helped, target, base, count, counts)


_TARGET = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(%?)\s*$")


def parse_target(text: str) -> tuple[str, float] | None:
    """``"80%"`` -> ("percent", 80.0); ``"120"`` -> ("absolute", 120.0); None if neither."""
    match = _TARGET.match(text or "")
    if not match:
        return None
    value = float(match.group(1).replace(",", "."))
    if match.group(2):
        return ("percent", value) if 0 < value <= 100 else None
    return ("absolute", value) if value > 0 and value.is_integer() else None


def bar(ratio: float, width: int = BAR_WIDTH) -> str:
    filled = max(0, min(width, round(ratio * width)))
    return BAR_FULL * filled + BAR_EMPTY * (width - filled)


# Time buckets for "over time" views -------------------------------------------------------
@dataclass(frozen=True)
class Bucket:
    start: date
    end: date
    kind: str  # day | week | month


def buckets(period: Period) -> list[Bucket]:
    """The period cut in days (a week), weeks (a month, calendar or cut-off) or months (longer).

    Weeks and months run from the period's own first day (a cut-off quarter's months are
    15/09–14/10, 15/10–14/11...), so no column is shorter than its kind: the days left at the
    end, fewer than a week or a month, go to the last column (a 31-day month: 7, 7, 7, 10 days)."""
    if period.kind == "week" or period.days <= 7:
        return [Bucket(d, d, "day") for d in (period.start + timedelta(days=i) for i in range(period.days))]
    kind = "week" if period.days <= 31 else "month"

    def start_of(step: int) -> date:
        return period.start + timedelta(weeks=step) if kind == "week" else _months_after(period.start, step)

    starts = [start_of(0)]
    while start_of(len(starts)) <= period.end:
        starts.append(start_of(len(starts)))
    if len(starts) > 1 and start_of(len(starts)) - timedelta(days=1) > period.end:
        starts.pop()  # the last column would be short: its days go to the one before
    ends = [later - timedelta(days=1) for later in starts[1:]] + [period.end]
    return [Bucket(first, last, kind) for first, last in zip(starts, ends, strict=True)]


def _months_after(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month_index = divmod(index, 12)
    return date(year, month_index + 1, min(day.day, calendar.monthrange(year, month_index + 1)[1]))


def bucket_label(texts: Any, part: Bucket) -> str:
    """What a column or a bar covers: ``02/12``, ``Tuần 01/12–07/12``, ``Th11/2026``, ``15/10–14/11``."""
    if part.kind == "day":
        return texts("chart.day_label", day=short_day(part.start))
    if part.kind == "week":
        return texts("chart.week_label", start=short_day(part.start), end=short_day(part.end))
    if part.start == month(part.start.year, part.start.month).start and part.end == month(
            part.start.year, part.start.month).end:
        return texts("chart.month_label", month=part.start.month, year=part.start.year)
    return texts("chart.span_label", start=short_day(part.start), end=short_day(part.end))


def bucketed(days: list[DayTotal], parts: list[Bucket]) -> dict[tuple[int, str, int], int]:
    """(village id, service, bucket index) -> households."""
    out: dict[tuple[int, str, int], int] = {}
    for row in days:
        for index, part in enumerate(parts):
            if part.start <= row.day <= part.end:
                key = (row.village_id, row.service, index)
                out[key] = out.get(key, 0) + row.households
                break
    return out


# Presentation helpers shared by the chat answer, the chart and the export ------------------
def number(value: int) -> str:
    """Vietnamese thousands separator: 1234567 -> "1.234.567"."""
    return f"{value:,}".replace(",", ".")


def short_day(day: date) -> str:
    return day.strftime("%d/%m")


def long_day(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def period_label(texts: Any, period: Period) -> str:
    """The period and the days it covers, the same wherever it is shown: ``tháng 12/2026
    (15/11–14/12)``, ``quý 4/2026 (01/10–31/12)``, ``tuần 16/11–22/11/2026``..."""
    end = period.end
    if period.kind == "week":
        return texts("tally.period.week", start=short_day(period.start), end=long_day(end))
    if period.kind == "once":
        return texts("tally.period.once", start=long_day(period.start), end=long_day(end))
    across = period.start.year != end.year
    return texts("tally.period.dates", name=period_name(texts, period),
                 start=(long_day if across else short_day)(period.start), end=(long_day if across else short_day)(end))


def period_name(texts: Any, period: Period) -> str:
    """The period's name alone (``tháng 12/2026``), for a heading that prints its dates itself."""
    end = period.end
    if period.kind in ("week", "once"):
        return period_label(texts, period)
    if period.kind in ("month", "cutoff"):
        name = texts("tally.period.month", month=end.month, year=end.year)
    elif period.kind == "quarter":
        name = texts("tally.period.quarter", number=(end.month - 1) // 3 + 1, year=end.year)
    elif period.kind == "half":
        part = texts("tally.period.half_first" if end.month <= 6 else "tally.period.half_second")
        name = texts("tally.period.half", part=part, year=end.year)
    else:
        name = texts("tally.period.year", year=end.year)
    return name


def per_commune(tally: Tally, communes: list[Unit]) -> Tally:
    """A province's tally with one line per commune (its villages summed: a
    :class:`CommuneTally`), in the order of ``communes``: what a province's chart draws and
    its chat answer lists. Coverage stays with the tally it came from. A tally already at
    commune grain has its lines put in that order."""
    if tally.summary is not None:
        lines = {line.unit.id: line for line in tally.villages}
        groups = {c.id: lines.get(c.id) or CommuneTally(c) for c in communes}
    else:
        groups = {c.id: CommuneTally(c) for c in communes}
        for village in tally.villages:
            group = groups.get(village.unit.parent_id or 0)
            if group is None:
                continue
            for name in ("current", "previous", "year_to_date"):
                summed = getattr(group, name)
                for service, value in getattr(village, name).items():
                    summed[service] = summed.get(service, 0) + value
            group.reports += village.reports
            group.zero_reports += village.zero_reports
            group.village_count += 1
            group.reported_villages += village.reported
    return Tally(tally.scope, tally.period, tally.services, list(groups.values()), tally.generated_at,
                 units=tally.units)
