"""Deadline rules and the ladder's calendar, over whole years of the default rules."""

from __future__ import annotations

import shutil
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.content import Content, ContentError, load_content
from bot.domain.deadlines import Campaign, DeadlineConfig, Planner, Rule, WorkCalendar

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
WORK = WorkCalendar()


@pytest.fixture(scope="module")
def planner(content: Content) -> Planner:
    return Planner(content.deadlines, TZ)


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=TZ)


def ladder(planner: Planner, deadline) -> dict[str, str]:
    return {s.step: s.at.strftime("%Y-%m-%d %H:%M") for s in planner.steps(deadline)}


@pytest.mark.parametrize("year", [2026, 2027])
def test_a_whole_year_every_step_on_a_working_day_at_its_time(planner: Planner, year: int):
    steps = planner.steps_between("ANY", at(f"{year}-01-01 00:00"), at(f"{year + 1}-01-01 00:00"))
    expected_time = {"before": time(8), "confirm": time(8), "eve": time(8), "due": time(7, 30), "overdue": time(8)}
    assert len({(s.deadline.rule, s.deadline.key) for s in steps}) >= 12 + 4 + 1 + 1 - 1
    for step in steps:
        assert WORK.is_working(step.at.date()), (step, WORK.holiday_name(step.at.date()))
        assert step.at.timetz().replace(tzinfo=None) == expected_time[step.step]
        assert not planner.is_quiet(step.at)
        assert step.at < step.expires
    monthly = [s for s in steps if s.deadline.rule == "thang" and s.step == "due"]
    assert [s.deadline.key for s in monthly] == [f"{year}-{m:02d}" for m in range(1, 13)]
    quarterly = [s.deadline.nominal for s in steps if s.deadline.rule == "quy" and s.step == "due"]
    assert quarterly == [date(year, m, 10) for m in (3, 6, 9, 12)]
    assert {s.deadline.period.key for s in steps if s.deadline.rule == "6thang"} == {f"{year}-H1"}
    assert {s.deadline.period.key for s in steps if s.deadline.rule == "nam"} == {str(year)}


def test_a_plain_month_three_working_days_then_one_then_due_then_overdue(planner: Planner):
    november = planner.deadline(planner.config.rules[0], date(2026, 11, 20))  # a Friday
    assert ladder(planner, november) == {
        "before": "2026-11-17 08:00", "confirm": "2026-11-18 08:00", "eve": "2026-11-19 08:00",
        "due": "2026-11-20 07:30",
        "overdue": "2026-11-23 08:00",  # the next working day is Monday
    }
    assert november.period.start == date(2026, 11, 1) and november.period.end == date(2026, 11, 30)


def test_tet_2026_moves_the_reminders_before_the_holiday(planner: Planner):
    february = planner.deadline(planner.config.rules[0], date(2026, 2, 20))  # Tết: 16–20/2/2026
    assert february.due == date(2026, 2, 20) and february.anchor == date(2026, 2, 13)
    assert ladder(planner, february) == {
        "before": "2026-02-10 08:00", "confirm": "2026-02-11 08:00", "eve": "2026-02-12 08:00",
        "due": "2026-02-13 07:30",
        "overdue": "2026-02-23 08:00",
    }


def test_tet_2027_and_a_campaign_due_in_it(planner: Planner):
    campaign = planner.campaign(Campaign(id="tet", name="Chiến dịch Tết", due=date(2027, 2, 8)))
    assert campaign.anchor == date(2027, 2, 3)  # Tết 2027: 4–10/2
    steps = ladder(planner, campaign)
    assert steps["before"] == "2027-01-29 08:00" and steps["eve"] == "2027-02-02 08:00"
    assert steps["overdue"] == "2027-02-11 08:00"
    february = planner.deadline(planner.config.rules[0], date(2027, 2, 20))  # a Saturday
    assert february.anchor == date(2027, 2, 19)


def test_april_30_may_1_and_national_day(planner: Planner):
    reunification = planner.campaign(Campaign(id="a", name="A", due=date(2026, 5, 1)))
    assert reunification.anchor == date(2026, 4, 29)
    assert ladder(planner, reunification)["overdue"] == "2026-05-04 08:00"
    national = planner.campaign(Campaign(id="b", name="B", due=date(2026, 9, 2)))
    assert national.anchor == date(2026, 8, 28)  # 31/8 (substituted), 1/9 and 2/9 are days off
    assert ladder(planner, national)["overdue"] == "2026-09-03 08:00"


def test_a_commune_can_move_the_deadline_itself(content: Content):
    data = content.deadlines.model_dump()
    data["communes"] = {"XA-1": {"rules": [{"id": "thang", "name": "Tháng", "every": "month", "day": 20,
                                             "covers": "month", "if_holiday": "later"}]},
                        "XA-2": {"rules": [{"id": "thang", "name": "Tháng", "every": "month", "day": 20,
                                             "covers": "month", "if_holiday": "earlier"}]}}
    planner = Planner(DeadlineConfig.model_validate(data), TZ)
    later = planner.deadlines("XA-1", date(2026, 12, 1), date(2026, 12, 31))
    earlier = planner.deadlines("XA-2", date(2026, 12, 1), date(2026, 12, 31))
    default = planner.deadlines("OTHER", date(2026, 12, 1), date(2026, 12, 31))
    pick = {d.rule: d for d in later}["thang"], {d.rule: d for d in earlier}["thang"], \
        {d.rule: d for d in default}["thang"]
    assert pick[0].due == date(2026, 12, 21) and pick[0].anchor == date(2026, 12, 21)  # 20/12 is a Sunday
    assert pick[1].due == date(2026, 12, 18) and pick[1].moved
    assert pick[2].due == date(2026, 12, 20) and pick[2].anchor == date(2026, 12, 18) and not pick[2].moved


def test_commune_overrides_disable_and_cutoff_periods(content: Content):
    data = content.deadlines.model_dump()
    data["communes"] = {"XA-1": {
        "rules": [{"id": "thang", "name": "Tháng", "every": "month", "day": 18, "covers": "cutoff",
                   "cutoff_day": 15}],
        "disable": ["6thang"],
        "campaigns": [{"id": "vneid", "name": "Chiến dịch VNeID", "due": "2026-11-30", "start": "2026-11-01"}],
    }}
    planner = Planner(DeadlineConfig.model_validate(data), TZ)
    found = planner.deadlines("XA-1", date(2026, 1, 1), date(2026, 12, 31))
    rules = {d.rule for d in found}
    assert "6thang" not in rules and "cd-vneid" in rules
    november = next(d for d in found if d.rule == "thang" and d.nominal.month == 11)
    assert november.nominal == date(2026, 11, 18)
    assert (november.period.start, november.period.end) == (date(2026, 10, 15), date(2026, 11, 14))
    assert "6thang" in {d.rule for d in planner.deadlines("OTHER", date(2026, 1, 1), date(2026, 12, 31))}


def test_quiet_hours_are_never_broken(planner: Planner):
    assert planner.out_of_quiet(at("2026-11-20 22:15")) == at("2026-11-21 07:00")
    assert planner.out_of_quiet(at("2026-11-21 05:00")) == at("2026-11-21 07:00")
    assert planner.out_of_quiet(at("2026-11-21 07:00")) == at("2026-11-21 07:00")
    assert planner.out_of_quiet(at("2026-11-21 20:59")) == at("2026-11-21 20:59")
    assert planner.is_quiet(at("2026-11-21 21:00")) and not planner.is_quiet(at("2026-11-21 20:59"))


def test_missed_steps_are_due_until_they_expire(planner: Planner):
    # The bot was down from Monday 16/11 to Thursday 19/11 10:00: the T−3 step is superseded by
    # the T−1 one (sent once on start); the leader's request to confirm (T−2) still stands;
    # the due-day step is not due yet.
    due = planner.due_now("ANY", at("2026-11-19 10:00"))
    assert [(s.deadline.rule, s.step) for s in due] == [("thang", "confirm"), ("thang", "eve")]
    assert [(s.deadline.rule, s.step) for s in planner.due_now("ANY", at("2026-11-18 09:00"))] == [
        ("thang", "before"), ("thang", "confirm")]
    assert planner.due_now("ANY", at("2026-11-20 21:30")) == []  # the deadline day is over
    digest = planner.digest_due(at("2026-11-23 07:30"))
    assert digest is not None and digest.week.key == "2026-W47"
    assert planner.digest_due(at("2026-11-23 07:29")) is None  # the week before last: expired
    assert planner.digest_due(at("2026-11-26 08:00")) is None


def test_invalid_rules_are_refused_with_the_field_named(tmp_path: Path):
    shutil.copytree(load_content().directory, tmp_path, dirs_exist_ok=True)  # texts/ included
    rules = yaml.safe_load((tmp_path / "deadlines.yaml").read_text(encoding="utf-8"))
    rules["ladder"]["due_time"] = "22:00"
    (tmp_path / "deadlines.yaml").write_text(yaml.safe_dump(rules), encoding="utf-8")
    with pytest.raises(ContentError, match=r"deadlines\.yaml.*quiet hours"):
        load_content(tmp_path).deadlines  # noqa: B018
    rules["ladder"]["due_time"] = "07:30"
    rules["rules"][1]["month"] = 4  # a quarter has three months
    (tmp_path / "deadlines.yaml").write_text(yaml.safe_dump(rules), encoding="utf-8")
    with pytest.raises(ContentError, match=r"rules\.1"):
        load_content(tmp_path).deadlines  # noqa: B018


def test_rule_model_bounds():
    with pytest.raises(ValueError):
        Rule(id="x", name="x", every="month", month=2, day=20, covers="month")
    rule = Rule(id="x", name="x", every="month", day=31, covers="month")
    assert rule.due_days(date(2026, 2, 1), date(2026, 2, 28)) == [date(2026, 2, 28)]


def test_a_cutoff_rule_follows_the_communes_own_cutoff_day(tmp_path: Path):
    """A commune that moves its cut-off day (tally.yaml, what /ky counts) moves its cut-off
    deadline's period with it; a rule that names its own day keeps it."""
    shutil.copytree(load_content().directory, tmp_path, dirs_exist_ok=True)  # texts/ included
    tally = yaml.safe_load((tmp_path / "tally.yaml").read_text(encoding="utf-8"))
    tally["cutoff_day_by_commune"] = {"XA-20": 20}
    (tmp_path / "tally.yaml").write_text(yaml.safe_dump(tally, allow_unicode=True), encoding="utf-8")
    rules = yaml.safe_load((tmp_path / "deadlines.yaml").read_text(encoding="utf-8"))
    monthly = {"id": "ky", "name": "Báo cáo kỳ", "every": "month", "day": 22, "covers": "cutoff"}
    rules["rules"].append(monthly)
    rules["communes"] = {"XA-FIXED": {"rules": [{**monthly, "cutoff_day": 25}]}}
    (tmp_path / "deadlines.yaml").write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    planner = load_content(tmp_path).planner(TZ)

    def november(commune: str) -> tuple[date, date]:
        found = planner.deadlines(commune, date(2026, 11, 1), date(2026, 11, 30))
        period = next(d for d in found if d.rule == "ky").period
        return period.start, period.end

    assert november("XA-20") == (date(2026, 10, 20), date(2026, 11, 19))  # the commune's day, as /ky
    assert november("OTHER") == (date(2026, 10, 15), date(2026, 11, 14))  # the national default
    assert november("XA-FIXED") == (date(2026, 10, 25), date(2026, 11, 24))  # the rule's own day
