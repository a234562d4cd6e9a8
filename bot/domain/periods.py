"""Reporting periods: week (Monday to Sunday), month, quarter, half-year, year, and
cut-off months (Decree 09/2019 style: month M runs from the cut-off day of M-1 to the
day before the cut-off day of M; the default cut-off is the 15th).

A :class:`Period` has inclusive ``start`` and ``end`` days and a stable ``key``
("2026-W47", "2026-11", "2026-Q4", "2026-H2", "2026", "2026-11k15") used in storage
and outbox keys.
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
    return Period("cutoff", start, end, f"{year}-{month_number:02d}k{cutoff_day}")


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
