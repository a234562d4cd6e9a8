"""Periods at their edges: year end, leap day, the 14th and the 15th of cut-off months."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot.domain.periods import (
    PeriodScheme,
    cutoff_month_of,
    from_key,
    half_of,
    month_of,
    period_of,
    quarter_of,
    week_of,
    year_of,
)


def test_week_runs_monday_to_sunday_across_year_end():
    week = week_of(date(2026, 12, 31))
    assert (week.start, week.end) == (date(2026, 12, 28), date(2027, 1, 3))
    assert week.key == "2026-W53"
    assert week.next().start == date(2027, 1, 4) and week.previous().end == date(2026, 12, 27)


def test_month_and_leap_day():
    feb = month_of(date(2028, 2, 29))
    assert (feb.start, feb.end, feb.days) == (date(2028, 2, 1), date(2028, 2, 29), 29)
    assert month_of(date(2026, 2, 10)).end == date(2026, 2, 28)
    assert month_of(date(2026, 1, 31)).previous().key == "2025-12"
    assert month_of(date(2026, 3, 31)).previous() == month_of(date(2026, 2, 1))


def test_quarter_half_year():
    assert quarter_of(date(2026, 11, 22)).key == "2026-Q4"
    assert quarter_of(date(2026, 1, 1)).previous().key == "2025-Q4"
    assert half_of(date(2026, 6, 30)).key == "2026-H1" and half_of(date(2026, 7, 1)).key == "2026-H2"
    assert year_of(date(2024, 2, 29)).previous().key == "2023"


@pytest.mark.parametrize(
    ("day", "key", "start", "end"),
    [
        (date(2026, 11, 14), "2026-11k15", date(2026, 10, 15), date(2026, 11, 14)),
        (date(2026, 11, 15), "2026-12k15", date(2026, 11, 15), date(2026, 12, 14)),
        (date(2026, 12, 31), "2027-01k15", date(2026, 12, 15), date(2027, 1, 14)),
        (date(2028, 2, 29), "2028-03k15", date(2028, 2, 15), date(2028, 3, 14)),
    ],
)
def test_cutoff_months(day, key, start, end):
    period = cutoff_month_of(day)
    assert (period.key, period.start, period.end) == (key, start, end)
    assert day in period and period.previous().end.toordinal() + 1 == period.start.toordinal()


def test_keys_round_trip():
    for kind in ("week", "month", "quarter", "half", "year", "cutoff"):
        for day in (date(2026, 1, 1), date(2026, 11, 22), date(2028, 2, 29)):
            period = period_of(kind, day)
            assert from_key(period.key) == period
    with pytest.raises(ValueError):
        from_key("2026-13-x")


# One scheme per commune (issue 13) ---------------------------------------------------------------
CALENDAR, CUTOFF = PeriodScheme(), PeriodScheme(True, 15)


@pytest.mark.parametrize(("scheme", "kind", "day", "start", "end", "key"), [
    (CALENDAR, "month", date(2026, 11, 30), date(2026, 11, 1), date(2026, 11, 30), "2026-11"),
    (CALENDAR, "month", date(2026, 12, 1), date(2026, 12, 1), date(2026, 12, 31), "2026-12"),
    (CALENDAR, "quarter", date(2026, 12, 31), date(2026, 10, 1), date(2026, 12, 31), "2026-Q4"),
    (CALENDAR, "half", date(2026, 7, 1), date(2026, 7, 1), date(2026, 12, 31), "2026-H2"),
    (CALENDAR, "year", date(2027, 1, 1), date(2027, 1, 1), date(2027, 12, 31), "2027"),
    (CUTOFF, "month", date(2026, 12, 14), date(2026, 11, 15), date(2026, 12, 14), "2026-12k15"),
    (CUTOFF, "month", date(2026, 12, 15), date(2026, 12, 15), date(2027, 1, 14), "2027-01k15"),
    (CUTOFF, "month", date(2028, 2, 29), date(2028, 2, 15), date(2028, 3, 14), "2028-03k15"),
    (CUTOFF, "quarter", date(2026, 9, 14), date(2026, 6, 15), date(2026, 9, 14), "2026-Q3k15"),
    (CUTOFF, "quarter", date(2026, 9, 15), date(2026, 9, 15), date(2026, 12, 14), "2026-Q4k15"),
    (CUTOFF, "half", date(2026, 6, 14), date(2025, 12, 15), date(2026, 6, 14), "2026-H1k15"),
    (CUTOFF, "half", date(2026, 6, 15), date(2026, 6, 15), date(2026, 12, 14), "2026-H2k15"),
    (CUTOFF, "year", date(2026, 12, 14), date(2025, 12, 15), date(2026, 12, 14), "2026k15"),
    (CUTOFF, "year", date(2026, 12, 15), date(2026, 12, 15), date(2027, 12, 14), "2027k15"),
    (CUTOFF, "week", date(2026, 12, 15), date(2026, 12, 14), date(2026, 12, 20), "2026-W51"),
])
def test_a_schemes_periods_at_their_edges(scheme, kind, day, start, end, key):
    period = scheme.period_of(kind, day)
    assert (period.start, period.end, period.key) == (start, end, key)
    assert from_key(key) == period  # keys name the same period back
    assert period.next().start == period.end + timedelta(days=1)  # no gap, no overlap
    assert period.previous().end == period.start - timedelta(days=1)


def test_a_cutoff_commune_names_its_periods_by_the_month_they_end_in():
    # A deadline due on 20/12 is about the month named December: 15/11–14/12 with cut-offs.
    assert CUTOFF.named("month", date(2026, 12, 20)).key == "2026-12k15"
    assert CUTOFF.named("quarter", date(2026, 12, 10)).key == "2026-Q4k15"
    assert CUTOFF.named("year", date(2026, 12, 15)).start == date(2025, 12, 15)
    assert CALENDAR.named("cutoff", date(2026, 12, 20)).key == "2026-12k15"  # /ky in a calendar commune
    whole_year = [CUTOFF.month(2026, m) for m in range(1, 13)]
    assert sum(p.days for p in whole_year) == CUTOFF.named("year", date(2026, 1, 1)).days == 365
