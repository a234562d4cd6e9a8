"""Reporting periods: week (Monday to Sunday), month, quarter, half-year, year, and
cut-off months (Decree 09/2019 style: month M runs from the cut-off day of M-1 to the
day before the cut-off day of M; the default cut-off is the 15th).

A :class:`Period` has inclusive ``start`` and ``end`` days and a stable ``key``
("2026-W47", "2026-11", "2026-Q4", "2026-H2", "2026", "2026-11k15") used in storage
and outbox keys.

A commune counts in one :class:`PeriodScheme`: calendar periods, or cut-off periods where
the month, the quarter, the half-year and the year all start on the cut-off day of the
month before (quarter 4 with the 15th: 15/09–14/12, key "2026-Q4k15"; the year:
15/12 of the year before to 14/12, key "2026k15"). Weeks are always Monday to Sunday.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

KINDS = ("week", "month", "quarter", "half", "year", "cutoff")
DEFAULT_CUTOFF_DAY = 15


@dataclass(frozen=True)
class Period:
    kind: str
    start: date
    end: date
    key: str
    cutoff: int = 0  # the cut-off day of a cut-off period (0: calendar)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        return self.shift(-1)

    def next(self) -> Period:
        return self.shift(1)

    def shift(self, steps: int) -> Period:
        """The period ``steps`` periods later (negative: earlier), of the same kind."""
        if self.kind == "week":
            return week_of(self.start + timedelta(weeks=steps))
        if self.cutoff and self.kind in ("quarter", "half", "year"):
            months = {"quarter": 3, "half": 6, "year": 12}[self.kind]
            anchor = _add_months(self.end.replace(day=1), steps * months)
            return PeriodScheme(True, self.cutoff).named(self.kind, anchor)
        if self.kind == "year":
            return year_of(date(self.start.year + steps, 1, 1))
        if self.kind == "cutoff":
            cutoff_day = int(self.key.rsplit("k", 1)[1])
            anchor = _add_months(self.end.replace(day=1), steps)
            return cutoff_month(anchor.year, anchor.month, cutoff_day)
        months = {"month": 1, "quarter": 3, "half": 6}[self.kind]
        return period_of(self.kind, _add_months(self.start, steps * months))


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def week_of(day: date) -> Period:
    start = day - timedelta(days=day.weekday())
    iso_year, iso_week, _ = start.isocalendar()
    return Period("week", start, start + timedelta(days=6), f"{iso_year}-W{iso_week:02d}")


def month(year: int, month_number: int) -> Period:
    return Period("month", date(year, month_number, 1), _month_end(year, month_number), f"{year}-{month_number:02d}")


def month_of(day: date) -> Period:
    return month(day.year, day.month)


def quarter(year: int, number: int) -> Period:
    first = 3 * (number - 1) + 1
    return Period("quarter", date(year, first, 1), _month_end(year, first + 2), f"{year}-Q{number}")


def quarter_of(day: date) -> Period:
    return quarter(day.year, (day.month - 1) // 3 + 1)


def half_of(day: date) -> Period:
    if day.month <= 6:
        return Period("half", date(day.year, 1, 1), date(day.year, 6, 30), f"{day.year}-H1")
    return Period("half", date(day.year, 7, 1), date(day.year, 12, 31), f"{day.year}-H2")


def year_of(day: date) -> Period:
    return Period("year", date(day.year, 1, 1), date(day.year, 12, 31), str(day.year))


def cutoff_month(year: int, month_number: int, cutoff_day: int = DEFAULT_CUTOFF_DAY) -> Period:
    """Month ``month_number`` of a cut-off calendar: from ``cutoff_day`` of the month before
    to the day before ``cutoff_day`` of this month (15/10–14/11 is November's with the default)."""
    if not 2 <= cutoff_day <= 28:
        raise ValueError("cut-off day must be between 2 and 28")
    end = date(year, month_number, cutoff_day) - timedelta(days=1)
    before = _add_months(date(year, month_number, 1), -1)
    start = date(before.year, before.month, cutoff_day)
    return Period("cutoff", start, end, f"{year}-{month_number:02d}k{cutoff_day}", cutoff_day)


def cutoff_month_of(day: date, cutoff_day: int = DEFAULT_CUTOFF_DAY) -> Period:
    if day.day >= cutoff_day:
        following = _add_months(day.replace(day=1), 1)
        return cutoff_month(following.year, following.month, cutoff_day)
    return cutoff_month(day.year, day.month, cutoff_day)


def period_of(kind: str, day: date, cutoff_day: int = DEFAULT_CUTOFF_DAY) -> Period:
    """The period of ``kind`` that contains ``day``."""
    if kind == "cutoff":
        return cutoff_month_of(day, cutoff_day)
    makers = {"week": week_of, "month": month_of, "quarter": quarter_of, "half": half_of, "year": year_of}
    if kind not in makers:
        raise ValueError(f"unknown period kind {kind!r}")
    return makers[kind](day)


_KEYS = [
    (re.compile(r"^(\d{4})-Q([1-4])k(\d{1,2})$"),
     lambda m: PeriodScheme(True, int(m[3])).quarter(int(m[1]), int(m[2]))),
    (re.compile(r"^(\d{4})-H([12])k(\d{1,2})$"),
     lambda m: PeriodScheme(True, int(m[3])).named("half", date(int(m[1]), 6 * int(m[2]), 1))),
    (re.compile(r"^(\d{4})k(\d{1,2})$"), lambda m: PeriodScheme(True, int(m[2])).named("year", date(int(m[1]), 1, 1))),
    (re.compile(r"^(\d{4})-W(\d{2})$"), lambda m: week_of(date.fromisocalendar(int(m[1]), int(m[2]), 1))),
    (re.compile(r"^(\d{4})-(\d{2})k(\d{1,2})$"), lambda m: cutoff_month(int(m[1]), int(m[2]), int(m[3]))),
    (re.compile(r"^(\d{4})-(\d{2})$"), lambda m: month(int(m[1]), int(m[2]))),
    (re.compile(r"^(\d{4})-Q([1-4])$"), lambda m: quarter(int(m[1]), int(m[2]))),
    (re.compile(r"^(\d{4})-H([12])$"), lambda m: half_of(date(int(m[1]), 1 if m[2] == "1" else 7, 1))),
    (re.compile(r"^(\d{4})$"), lambda m: year_of(date(int(m[1]), 1, 1))),
]


def from_key(key: str) -> Period:
    """Parse a period key such as ``2026-11`` or ``2026-W47``; ValueError if it is not one."""
    for pattern, make in _KEYS:
        match = pattern.match(key.strip())
        if match:
            return make(match)
    raise ValueError(f"not a period key: {key!r}")


@dataclass(frozen=True)
class PeriodScheme:
    """How one commune counts: calendar periods, or (``cutoff``) cut-off periods from
    ``cutoff_day``. ``cutoff_day`` is also what ``/ky`` counts with in a calendar commune.

    The one source of a commune's periods: deadlines, reminders, confirmations, locks,
    tallies, charts and exports all ask it (``Content.periods(commune_code)``)."""

    cutoff: bool = False
    cutoff_day: int = DEFAULT_CUTOFF_DAY

    def __post_init__(self) -> None:
        if not 2 <= self.cutoff_day <= 28:
            raise ValueError("cut-off day must be between 2 and 28")

    @property
    def kind(self) -> str:
        return "cutoff" if self.cutoff else "calendar"

    @property
    def _cut(self) -> int | None:
        return self.cutoff_day if self.cutoff else None

    def month(self, year: int, month_number: int) -> Period:
        if self._cut:
            return cutoff_month(year, month_number, self.cutoff_day)
        return month(year, month_number)

    def quarter(self, year: int, number: int) -> Period:
        if not self._cut:
            return quarter(year, number)
        first, last = self.month(year, 3 * number - 2), self.month(year, 3 * number)
        return Period("quarter", first.start, last.end, f"{year}-Q{number}k{self.cutoff_day}", self.cutoff_day)

    def named(self, kind: str, day: date) -> Period:
        """The period of ``kind`` named by ``day``'s calendar month: its month, its quarter, its
        half or its year ("quý 4/2026" is 15/09–14/12 in a cut-off commune). What a deadline
        due on ``day`` is about; a week is the week of ``day``."""
        if kind == "cutoff":  # a cut-off month, whatever the scheme (/ky)
            return cutoff_month(day.year, day.month, self.cutoff_day)
        if kind == "month":
            return self.month(day.year, day.month)
        if kind == "quarter":
            return self.quarter(day.year, (day.month - 1) // 3 + 1)
        if not self._cut:
            return period_of(kind, day)
        cut = self.cutoff_day
        if kind == "half":
            first, last = (1, 6) if day.month <= 6 else (7, 12)
            return Period("half", self.month(day.year, first).start, self.month(day.year, last).end,
                          f"{day.year}-H{1 if first == 1 else 2}k{cut}", cut)
        if kind == "year":
            return Period("year", self.month(day.year, 1).start, self.month(day.year, 12).end, f"{day.year}k{cut}", cut)
        return period_of(kind, day)

    def period_of(self, kind: str, day: date) -> Period:
        """The period of ``kind`` (week, month, quarter, half, year) that contains ``day``."""
        if kind == "week":
            return week_of(day)
        if kind == "cutoff":
            return cutoff_month_of(day, self.cutoff_day)
        if not self._cut:
            return period_of(kind, day)
        its_month = cutoff_month_of(day, self.cutoff_day)  # named by the calendar month it ends in
        return self.named(kind, its_month.end)

    def month_of(self, day: date) -> Period:
        return self.period_of("month", day)
