"""Deadline rules (``content/deadlines.yaml``), working days and the reminder ladder's calendar.

Pure: no storage, no channel, no clock. Given the rules and a commune, it says which
deadlines fall when, and at what local time each step of the ladder goes out:

* ``before``  T−3 working days, 08:00: members of villages that have not reported;
* ``confirm`` T−2 working days (``cycle.confirm_working_days``), 08:00: the leader (or, in a
  village without one, every member) of each village that has not confirmed is shown the
  village's figures with [✅ Đúng, gửi xã] and [✏️ Sửa];
* ``eve``     T−1 working day, 08:00: the same, and their team leader;
* ``due``     the due day, 07:30: commune staff, with the list of villages still missing;
* ``overdue`` T+1 working day, 08:00: leaders of villages still missing (asked to confirm), and staff.

"Missing" means not confirmed (``bot/services/cycle.py``): a report alone does not stop them.

"T" is the due day if it is a working day, else the working day before it (reminders
never fall on a weekend or a public holiday). Whether the deadline itself moves is the
rule's ``if_holiday``. Each step also has an expiry: a step missed while the bot was
down is still sent on start until then, and never after (a T−3 nudge is pointless once
the T−1 one is due).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import Literal
from zoneinfo import ZoneInfo

import holidays
from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.domain.periods import Period, PeriodScheme, cutoff_month, week_of

STEPS = ("before", "confirm", "eve", "due", "overdue")
DIGEST_RULE = "digest"
CAMPAIGN_PREFIX = "cd-"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QuietHours(_Strict):
    start: time = time(21, 0)
    end: time = time(7, 0)

    def contains(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


class Ladder(_Strict):
    before_working_days: int = Field(default=3, ge=2, le=15)
    before_time: time = time(8, 0)
    eve_working_days: int = Field(default=1, ge=1, le=5)
    eve_time: time = time(8, 0)
    due_time: time = time(7, 30)
    overdue_working_days: int = Field(default=1, ge=1, le=10)
    overdue_time: time = time(8, 0)

    @model_validator(mode="after")
    def _order(self) -> Ladder:
        if self.eve_working_days >= self.before_working_days:
            raise ValueError("eve_working_days must be fewer than before_working_days")
        return self


class DigestRule(_Strict):
    weekday: int = Field(default=0, ge=0, le=6)
    time: dt.time = dt.time(7, 30)
    top: int = Field(default=3, ge=1, le=10)


class Rule(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_]{0,15}$")
    name: str = Field(min_length=1, max_length=60)
    every: Literal["month", "quarter", "year"]
    month: int = Field(default=1, ge=1, le=12)
    day: int = Field(ge=1, le=31)
    covers: Literal["month", "quarter", "half", "year", "cutoff"]
    # Only for ``covers: cutoff``. Unset: the commune's own cut-off day, the one /ky uses
    # (content/tally.yaml), so the deadline and the tally always mean the same month.
    cutoff_day: int | None = Field(default=None, ge=2, le=28)
    previous: bool = False
    if_holiday: Literal["keep", "earlier", "later"] = "keep"

    @model_validator(mode="after")
    def _month_in_cycle(self) -> Rule:
        cycle = {"month": 1, "quarter": 3, "year": 12}[self.every]
        if self.month > cycle:
            raise ValueError(f"month must be between 1 and {cycle} for a rule that recurs every {self.every}")
        return self

    def due_days(self, first: date, last: date) -> list[date]:
        """Nominal due days from ``first`` to ``last`` inclusive."""
        cycle = {"month": 1, "quarter": 3, "year": 12}[self.every]
        days = []
        for year in range(first.year, last.year + 1):
            for month_number in range(1, 13):
                if (month_number - 1) % cycle != self.month - 1:
                    continue
                day = date(year, month_number, min(self.day, calendar.monthrange(year, month_number)[1]))
                if first <= day <= last:
                    days.append(day)
        return days

    def period_for(self, due: date, scheme: PeriodScheme | None = None) -> Period:
        """The period a deadline due on ``due`` is about, in the commune's ``scheme`` (default
        calendar): the month, quarter, half or year named by the due day's month."""
        scheme = scheme or PeriodScheme()
        if self.covers == "cutoff":
            period = cutoff_month(due.year, due.month, self.cutoff_day or scheme.cutoff_day)
        else:
            period = scheme.named(self.covers, due)
        return period.previous() if self.previous else period


class Campaign(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,15}$")
    name: str = Field(min_length=1, max_length=60)
    due: date
    start: date | None = None  # the period the campaign counts reports from; default 30 days before

    @model_validator(mode="after")
    def _start_before_due(self) -> Campaign:
        if self.start is not None and self.start > self.due:
            raise ValueError("start must not be after due")
        return self


class CycleRules(_Strict):
    """The reporting cycle: when villages are asked to confirm, when a period closes by itself."""

    # Leaders are asked to confirm their village's figures from this many working days
    # before a deadline (the "confirm" step of the ladder).
    confirm_working_days: int = Field(default=2, ge=1, le=15)
    # A period closes by itself this many days after its deadline (None: only staff close it).
    close_after_days: int | None = Field(default=None, ge=1, le=120)


class CommuneRules(_Strict):
    cycle: CycleRules | None = None
    rules: tuple[Rule, ...] = ()
    disable: tuple[str, ...] = ()
    campaigns: tuple[Campaign, ...] = ()


class DeadlineConfig(_Strict):
    quiet_hours: QuietHours = QuietHours()
    ladder: Ladder = Ladder()
    digest: DigestRule = DigestRule()
    cycle: CycleRules = CycleRules()
    rules: tuple[Rule, ...] = Field(min_length=1)
    communes: dict[str, CommuneRules] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> DeadlineConfig:
        ids = [r.id for r in self.rules]
        if len(set(ids)) != len(ids):
            raise ValueError("rule ids must be unique")
        ladder = self.ladder
        for name, moment in (("ladder.before_time", ladder.before_time), ("ladder.eve_time", ladder.eve_time),
                             ("ladder.due_time", ladder.due_time), ("ladder.overdue_time", ladder.overdue_time),
                             ("digest.time", self.digest.time)):
            if self.quiet_hours.contains(moment):
                raise ValueError(f"{name} {moment:%H:%M} falls in the quiet hours")
        for code, local in self.communes.items():
            unknown = set(local.disable) - set(ids)
            if unknown:
                raise ValueError(f"communes.{code}.disable: no default rule {sorted(unknown)[0]!r}")
        return self

    def rules_for(self, commune_code: str) -> list[Rule]:
        local = self.communes.get(commune_code, CommuneRules())
        overrides = {r.id: r for r in local.rules}
        rules = [overrides.pop(r.id, r) for r in self.rules if r.id not in local.disable]
        return rules + list(overrides.values())

    def cycle_for(self, commune_code: str) -> CycleRules:
        local = self.communes.get(commune_code)
        return local.cycle if local is not None and local.cycle is not None else self.cycle

    def campaigns_for(self, commune_code: str) -> list[Campaign]:
        return list(self.communes.get(commune_code, CommuneRules()).campaigns)


# ------------------------------------------------------------------------------------------
# Working days
# ------------------------------------------------------------------------------------------


class WorkCalendar:
    """Saturdays, Sundays and Vietnamese public holidays (Tết included) are not working days."""

    def __init__(self, extra_holidays: tuple[date, ...] = ()) -> None:
        self._holidays = holidays.country_holidays("VN")
        self._extra = frozenset(extra_holidays)

    def is_working(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._holidays and day not in self._extra

    def holiday_name(self, day: date) -> str | None:
        return self._holidays.get(day)

    def on_or_before(self, day: date) -> date:
        while not self.is_working(day):
            day -= timedelta(days=1)
        return day

    def on_or_after(self, day: date) -> date:
        while not self.is_working(day):
            day += timedelta(days=1)
        return day

    def shift(self, day: date, working_days: int) -> date:
        """``working_days`` working days after ``day`` (before, if negative)."""
        step = 1 if working_days > 0 else -1
        for _ in range(abs(working_days)):
            day += timedelta(days=step)
            while not self.is_working(day):
                day += timedelta(days=step)
        return day


# ------------------------------------------------------------------------------------------
# Deadlines and steps
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deadline:
    rule: str  # rule id, or "cd-<id>" for a one-off campaign
    name: str
    period: Period  # what the report is about: any live report in it counts
    nominal: date  # the due day as written in the rule
    due: date  # the deadline after ``if_holiday``
    anchor: date  # the working day of the due-day step (``due`` if it is a working day)

    @property
    def key(self) -> str:
        return self.period.key

    @property
    def moved(self) -> bool:
        return self.due != self.nominal


@dataclass(frozen=True)
class Step:
    deadline: Deadline
    step: str  # before | eve | due | overdue
    at: datetime  # local, aware
    expires: datetime  # not sent at or after this moment


@dataclass(frozen=True)
class DigestStep:
    week: Period  # the week the digest is about
    at: datetime
    expires: datetime


class Planner:
    """The calendar of deadlines and ladder steps for one set of rules, in one time zone."""

    def __init__(self, config: DeadlineConfig, tz: ZoneInfo, work: WorkCalendar | None = None,
                 schemes: Callable[[str], PeriodScheme] | None = None) -> None:
        """``schemes``: how a commune counts, by its code (``Content.periods``; default calendar)."""
        self.config = config
        self.tz = tz
        self.work = work or WorkCalendar()
        self.schemes = schemes or (lambda commune_code: PeriodScheme())

    def local(self, day: date, moment: time) -> datetime:
        return datetime.combine(day, moment, tzinfo=self.tz)

    def deadline(self, rule: Rule, nominal: date, scheme: PeriodScheme | None = None) -> Deadline:
        return self._deadline(rule.id, rule.name, rule.period_for(nominal, scheme), nominal, rule.if_holiday)

    def campaign(self, campaign: Campaign) -> Deadline:
        start = campaign.start or campaign.due - timedelta(days=30)
        period = Period("once", start, campaign.due, campaign.due.isoformat())
        return self._deadline(CAMPAIGN_PREFIX + campaign.id, campaign.name, period, campaign.due, "keep")

    def _deadline(self, rule_id: str, name: str, period: Period, nominal: date, if_holiday: str) -> Deadline:
        due = nominal
        if if_holiday == "earlier":
            due = self.work.on_or_before(nominal)
        elif if_holiday == "later":
            due = self.work.on_or_after(nominal)
        return Deadline(rule_id, name, period, nominal, due, self.work.on_or_before(due))

    def deadlines(self, commune_code: str, first: date, last: date,
                  extra: tuple[Campaign, ...] = ()) -> list[Deadline]:
        """Deadlines whose nominal due day is from ``first`` to ``last``, earliest first."""
        scheme = self.schemes(commune_code)
        found = [self.deadline(rule, day, scheme) for rule in self.config.rules_for(commune_code)
                 for day in rule.due_days(first, last)]
        for campaign in (*self.config.campaigns_for(commune_code), *extra):
            if first <= campaign.due <= last:
                found.append(self.campaign(campaign))
        return sorted(found, key=lambda d: (d.due, d.rule))

    def steps(self, deadline: Deadline, commune_code: str = "") -> list[Step]:
        ladder, quiet = self.config.ladder, self.config.quiet_hours
        work = self.work
        confirm_days = self.config.cycle_for(commune_code).confirm_working_days
        confirm = self.local(work.shift(deadline.anchor, -confirm_days), ladder.before_time)
        before = self.local(work.shift(deadline.anchor, -ladder.before_working_days), ladder.before_time)
        eve = self.local(work.shift(deadline.anchor, -ladder.eve_working_days), ladder.eve_time)
        due = self.local(deadline.anchor, ladder.due_time)
        closes = self.local(deadline.due, quiet.start)  # the deadline day's evening
        overdue = self.local(work.shift(deadline.due, ladder.overdue_working_days), ladder.overdue_time)
        return [
            Step(deadline, "before", before, eve),
            # The leader is asked to confirm the village's figures (until the deadline day's
            # evening; the overdue step asks again).
            Step(deadline, "confirm", confirm, closes),
            Step(deadline, "eve", eve, closes),
            Step(deadline, "due", due, closes),
            Step(deadline, "overdue", overdue, overdue + timedelta(days=1)),
        ]

    def steps_between(self, commune_code: str, start: datetime, end: datetime,
                      extra: tuple[Campaign, ...] = ()) -> list[Step]:
        """Every step firing in ``[start, end)``."""
        margin = timedelta(days=45)  # a ladder spans at most a few weeks around the due day
        found = []
        for deadline in self.deadlines(commune_code, (start - margin).date(), (end + margin).date(), extra):
            found.extend(s for s in self.steps(deadline, commune_code) if start <= s.at < end)
        return sorted(found, key=lambda s: (s.at, s.deadline.rule, STEPS.index(s.step)))

    def due_now(self, commune_code: str, now: datetime, extra: tuple[Campaign, ...] = ()) -> list[Step]:
        """Steps whose time has come and that have not expired: what a scheduling pass enqueues."""
        lookback = now - timedelta(days=21)
        return [s for s in self.steps_between(commune_code, lookback, now + timedelta(seconds=1), extra)
                if s.at <= now < s.expires]

    def digest_due(self, now: datetime) -> DigestStep | None:
        """The weekly digest about last week, if its time has come and it has not expired."""
        rule = self.config.digest
        local = now.astimezone(self.tz)
        days_since = (local.weekday() - rule.weekday) % 7
        at = self.local(local.date() - timedelta(days=days_since), rule.time)
        if at > local:
            at -= timedelta(days=7)
        expires = self.local(at.date(), self.config.quiet_hours.start)  # that day only: a stale digest is noise
        if not at <= local < expires:
            return None
        return DigestStep(week_of(at.date() - timedelta(days=7)), at, expires)

    @cached_property
    def cron_times(self) -> list[time]:
        """Local times at which something may become due (for the scheduler's triggers)."""
        ladder = self.config.ladder
        times = {ladder.before_time, ladder.eve_time, ladder.due_time, ladder.overdue_time, self.config.digest.time,
                 self.config.quiet_hours.end}
        return sorted(times)

    def out_of_quiet(self, when: datetime) -> datetime:
        """``when``, or the end of the quiet hours if it falls inside them."""
        quiet = self.config.quiet_hours
        local = when.astimezone(self.tz)
        if not quiet.contains(local.timetz().replace(tzinfo=None)):
            return when
        day = local.date()
        if quiet.start > quiet.end and local.time() >= quiet.start:
            day += timedelta(days=1)
        return self.local(day, quiet.end)

    def is_quiet(self, when: datetime) -> bool:
        return self.config.quiet_hours.contains(when.astimezone(self.tz).time())
