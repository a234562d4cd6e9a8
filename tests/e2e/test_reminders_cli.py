"""`tcns reminders plan|run|status` as an operator runs them, on the demo commune."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.cli import demo_codes, tcns


@pytest.fixture
def demo_with_a_member(tmp_path: Path) -> Path:
    """The demo commune with one member (Lan) in Ấp Mỹ Thạnh; nobody has reported."""
    codes = demo_codes(tcns(tmp_path, "demo", "--no-chat").stdout)
    joined = tcns(tmp_path, "chat", "--user", "Lan", stdin=f"/start {codes['Ấp Mỹ Thạnh']}\n/thoat\n")
    assert joined.returncode == 0 and "Ấp Mỹ Thạnh" in joined.stdout, joined.stderr
    return tmp_path


def plan_lines(output: str) -> dict[tuple[str, str, str], str]:
    """``(day, time, "step · deadline")`` -> recipients, from the plan's lines (columns joined by " · ")."""
    rows = re.findall(r"^\S+ (\d\d/\d\d/\d{4}) (\d\d:\d\d) · ([^·]+) · ([^·]+) · ([^·]+) · (.*)$", output, re.MULTILINE)
    return {(day, at, f"{step} · {rule}"): who for day, at, step, rule, _period, who in rows}


def test_plan_shows_the_december_ladder_on_working_days_with_recipients(demo_with_a_member: Path):
    done = tcns(demo_with_a_member, "reminders", "plan", "--from", "2026-12-01", "--to", "2026-12-31")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Lịch nhắc Xã Mỹ Hiệp từ 01/12/2026 đến 31/12/2026")
    plan = plan_lines(done.stdout)
    # The monthly report is due on the 20th, a Sunday in December 2026: the ladder moves to
    # Friday 18/12, and T-3 / T-1 count working days back from there.
    assert ("18/12/2026", "07:30", "đến hạn · Báo cáo tháng") in plan
    assert plan[("15/12/2026", "08:00", "nhắc trước · Báo cáo tháng")] == "1: Lan"  # the member who owes the report
    assert plan[("17/12/2026", "08:00", "sát hạn · Báo cáo tháng")] == "1: Lan"
    assert "Cán bộ" in plan[("18/12/2026", "07:30", "đến hạn · Báo cáo tháng")]  # staff get the list of villages
    assert not any(day.startswith("20/12") for day, _, _ in plan)
    assert "tháng 12/2026" in done.stdout and "2026-12" not in done.stdout  # periods the Vietnamese way
    # The digest goes out on Mondays at 07:30.
    digests = sorted(day for day, at, what in plan if what == "bản tin · Bản tin tuần")
    assert digests == ["07/12/2026", "14/12/2026", "21/12/2026", "28/12/2026"]


def test_a_run_enqueues_each_step_once_and_status_counts_it(demo_with_a_member: Path):
    first = tcns(demo_with_a_member, "reminders", "run", "--now", "2026-12-15 08:00")
    assert first.returncode == 0, first.stderr
    added = int(re.search(r"thêm (\d+) tin", first.stdout).group(1))  # type: ignore[union-attr]
    assert added >= 2  # at least Lan's T-3 reminder and the staff's due-day list for the year
    again = tcns(demo_with_a_member, "reminders", "run", "--now", "2026-12-15 08:00")
    assert "thêm 0 tin" in again.stdout  # planning twice sends nothing twice
    status = tcns(demo_with_a_member, "reminders", "status")
    assert f"chờ gửi: {added}" in status.stdout


def test_bad_arguments_get_a_clear_answer_and_change_nothing(demo_with_a_member: Path):
    bad_time = tcns(demo_with_a_member, "reminders", "run", "--now", "15/12/2026 8h")
    assert bad_time.returncode == 2 and "YYYY-MM-DD HH:MM" in bad_time.stdout
    unknown = tcns(demo_with_a_member, "reminders", "plan", "--commune", "XA-KHONG-CO")
    assert unknown.returncode == 2 and "XA-KHONG-CO" in unknown.stdout
    status = tcns(demo_with_a_member, "reminders", "status")
    assert "chờ gửi" not in status.stdout


def test_status_shows_each_channel_this_month_and_resume_lifts_a_pause(demo_with_a_member: Path):
    import asyncio
    from datetime import UTC, datetime

    from support.helpers import TZ

    from bot.runtime.backend import database_from_url
    from bot.services.quota import Quotas

    now = datetime.now(UTC).replace(microsecond=0)

    async def spent() -> None:
        async with await database_from_url(str(demo_with_a_member / "tcns.db")).open() as db, db.uow() as uow:
            month = Quotas(TZ).month(now)
            await uow.channels.count_sent("zalo", month, now, sent=30)
            await uow.channels.count_replies("zalo", month, now, replies=10)  # answers use the quota too
            await uow.channels.pause("zalo", "quota", month, now)

    asyncio.run(spent())
    env = {"TCNS_ZALO_MONTHLY_BUDGET": "40"}
    status = tcns(demo_with_a_member, "reminders", "status", extra_env=env)
    assert status.returncode == 0, status.stderr
    line = next(row for row in status.stdout.splitlines() if row.startswith("Zalo tháng"))
    assert "đã gửi 30 tin nhắc, 10 tin trả lời" in line and "còn 0/40" in line
    assert "TẠM DỪNG: hết hạn mức" in status.stdout and "tcns reminders resume zalo" in status.stdout
    resumed = tcns(demo_with_a_member, "reminders", "resume", "zalo", extra_env=env)
    assert resumed.returncode == 0 and "Đã mở lại" in resumed.stdout
    assert "TẠM DỪNG" not in tcns(demo_with_a_member, "reminders", "status", extra_env=env).stdout
