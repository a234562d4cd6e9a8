"""Calendar periods used by the flows (week Monday to Sunday, calendar month)."""

from __future__ import annotations

import calendar
from datetime import date, timedelta


def week_of(day: date) -> tuple[date, date]:
    start = day - timedelta(days=day.weekday())
    return start, start + timedelta(days=6)


def month_of(day: date) -> tuple[date, date]:
    last = calendar.monthrange(day.year, day.month)[1]
    return day.replace(day=1), day.replace(day=last)
