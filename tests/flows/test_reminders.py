"""Reminders end to end in-process: planner -> outbox -> sender, driven by a fixed clock."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from support import peek
from support.helpers import TZ, ChatUser

from bot.content import Content
from bot.domain.clock import FixedClock
from bot.domain.deadlines import Planner
from bot.domain.messages import plain_text
from bot.flows.engine import Engine
from bot.handlers.terminal import TerminalChat
from bot.handlers.terminal_outbox import terminal_inbox
from bot.services.demo import Demo
from bot.services.outbox import BLOCKED, SENT, TRANSIENT, Delivery, OutboxSender
from bot.services.reminders import scheduling_pass
from storage import Database
from storage.models import NewReport, OutboxMessage


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=TZ)


class Inbox:
    """A channel that records what it was asked to deliver; can fail on demand."""

    def __init__(self) -> None:
        self.delivered: list[OutboxMessage] = []
        self.blocked: set[str] = set()
        self.flaky: dict[str, int] = {}
        self.crash_after: int | None = None

    async def __call__(self, message: OutboxMessage) -> Delivery:
        if message.chat_id in self.blocked:
            return Delivery(BLOCKED, "Forbidden: bot was blocked by the user")
        if self.flaky.get(message.chat_id):
            self.flaky[message.chat_id] -= 1
            return Delivery(TRANSIENT, "NetworkError")
        self.delivered.append(message)
        if self.crash_after is not None and len(self.delivered) >= self.crash_after:
            raise Crash()  # the process dies after the HTTP call, before marking the row sent
        return Delivery(SENT)

    def texts(self, chat_id: str) -> list[str]:
        return [plain_text(m.payload["text"]) for m in self.delivered if m.chat_id == chat_id]


class Crash(BaseException):
    pass


@pytest.fixture
def planner(content: Content) -> Planner:
    return Planner(content.deadlines, TZ)


def sender(db: Database, clock: FixedClock, planner: Planner, inbox: Inbox, **kw) -> OutboxSender:
    return OutboxSender(db, {"telegram": inbox}, clock, is_quiet=planner.is_quiet, rate=1000, per_chat_interval=0,
                        **kw)


async def team(engine: Engine, demo: Demo) -> dict[str, ChatUser]:
    """Two members and a leader in village 0, a member in village 1, a leader in village 2."""
    users = {
        "an": ChatUser(engine, "2001", "An"), "binh": ChatUser(engine, "2002", "Bình"),
        "leader0": ChatUser(engine, "2003", "Tổ trưởng Cường"), "dung": ChatUser(engine, "2004", "Dũng"),
        "leader2": ChatUser(engine, "2005", "Tổ trưởng Giang"),
    }
    codes = [(demo.villages[0].member_code), demo.villages[0].member_code, demo.villages[0].leader_code,
             demo.villages[1].member_code, demo.villages[2].leader_code]
    for user, code in zip(users.values(), codes, strict=True):
        assert "Chào mừng" in await user.send(f"/start {code}")
    return users


async def report(db: Database, demo: Demo, village: int, day: date, count: int = 2,
                 service: str = "vneid") -> None:
    async with db.uow() as uow:
        member = (await uow.members.in_unit(demo.villages[village].village.id))[0]
        await uow.reports.add_batch(f"b{village}{day}{service}", member.id, demo.villages[village].village.id,
                                    [NewReport(service, count)], day, "text", datetime(2026, 1, 1, tzinfo=TZ))


async def rows(db: Database) -> list[tuple]:
    return await peek.rows(db, "outbox", "rule, period, step, chat_id, status", order="id")


async def test_t_minus_3_goes_only_to_villages_that_have_not_reported(
        engine: Engine, demo: Demo, db: Database, content: Content, planner: Planner):
    users = await team(engine, demo)
    await report(db, demo, 1, date(2026, 11, 1), count=0, service="none")  # an explicit zero counts
    clock = FixedClock(at("2026-11-17 08:00"))  # T−3 of the monthly report (due Fri 20/11)
    result = await scheduling_pass(db, content, TZ, clock.now())
    assert result.added == 4  # village 0: An, Bình, leader; village 2: its leader; not village 1
    again = await scheduling_pass(db, content, TZ, clock.now())
    assert again.added == 0  # the outbox key: planning twice sends nothing twice
    inbox = Inbox()
    drained = await sender(db, clock, planner, inbox).drain()
    assert drained.sent == 4
    text = inbox.texts(users["an"].user_id)[0]
    assert "Báo cáo tháng" in text and "tháng 11/2026" in text and "20/11/2026" in text and "Ấp Mỹ Thạnh" in text
    assert inbox.texts(users["dung"].user_id) == []
    assert await sender(db, clock, planner, inbox).drain() == type(drained)()  # nothing left


async def test_the_whole_ladder_escalates_and_drops_villages_as_they_report(
        engine: Engine, demo: Demo, db: Database, content: Content, planner: Planner):
    users = await team(engine, demo)
    staff = "canbo"  # the demo's commune staff, on the terminal channel
    inbox, terminal = Inbox(), Inbox()
    clock = FixedClock(at("2026-11-17 08:00"))

    async def step(when: str) -> None:
        clock.set(at(when))
        await scheduling_pass(db, content, TZ, clock.now())
        await OutboxSender(db, {"telegram": inbox, "terminal": terminal}, clock, is_quiet=planner.is_quiet,
                           rate=1000, per_chat_interval=0).drain()

    await step("2026-11-17 08:00")  # T−3 of the monthly report (due Fri 20/11)
    assert len(inbox.texts(users["dung"].user_id)) == 1
    first = inbox.texts(users["dung"].user_id)[0]  # VNeID and signatures count people: the example says so
    assert "vneid 5 cks 2 (5 người làm VNeID, 2 người làm chữ ký số)" in first and "hộ" not in first
    await report(db, demo, 1, date(2026, 11, 18))  # village 1 reports (it has no leader: its members confirm)
    await step("2026-11-19 08:00")  # T−2 missed, T−1: the confirmers of villages not confirmed are asked
    asked = [m for m in inbox.delivered if m.chat_id == users["dung"].user_id]
    assert len(asked) == 2 and asked[-1].step == "confirm"  # no "report please" once the village has reported
    assert "Chốt số liệu Ấp Mỹ Phú" in plain_text(asked[-1].payload["text"])
    assert [o["data"] for o in asked[-1].payload["options"][0]] == ["g:chot:ok:2026-11", "g:chot:fix:2026-11"]
    assert "Tổ trưởng lưu ý" in inbox.texts(users["leader0"].user_id)[-1]
    assert "Sắp hết hạn" in inbox.texts(users["an"].user_id)[-1]
    assert all(m.step != "confirm" for m in inbox.delivered if m.chat_id == users["an"].user_id)  # a leader confirms
    await step("2026-11-20 07:30")  # due day: staff get the list of villages not confirmed, with a button
    due = terminal.delivered[-1]
    assert due.chat_id == staff and "Ấp Mỹ Thạnh" in due.payload["text"]
    assert "• Ấp Mỹ Phú (có báo cáo, chưa chốt)" in plain_text(due.payload["text"])  # a report alone is not enough
    assert "(chưa ai dùng bot)" in plain_text(due.payload["text"])  # villages with nobody on the bot
    assert due.payload["options"][0][0]["data"] == "g:remind:thang:2026-11"
    assert "Đã chốt số liệu Ấp Mỹ Phú" in plain_text(await users["dung"].send("/chot dung 11"))
    await report(db, demo, 0, date(2026, 11, 20))  # village 0 reports on the day, but does not confirm
    before = len(inbox.delivered)
    await step("2026-11-23 08:00")  # T+1 (Monday): overdue to leaders of villages not confirmed, and staff
    new = [m for m in inbox.delivered[before:] if m.rule == "thang"]
    assert sorted(m.chat_id for m in new) == sorted([users["leader0"].user_id, users["leader2"].user_id])
    leader0 = next(m for m in new if m.chat_id == users["leader0"].user_id)
    assert "Đã quá hạn" in plain_text(leader0.payload["text"]) and leader0.payload["options"]
    overdue = [m for m in terminal.delivered if m.step == "overdue"]
    assert len(overdue) == 1 and "Ấp Mỹ Phú" not in overdue[0].payload["text"]
    assert "Ấp Bình Hàng Trung" in overdue[0].payload["text"]


async def test_crash_mid_batch_then_restart_no_loss_no_duplicate(
        engine: Engine, demo: Demo, db: Database, content: Content, planner: Planner):
    await team(engine, demo)
    clock = FixedClock(at("2026-11-17 08:00"))
    await scheduling_pass(db, content, TZ, clock.now())
    inbox = Inbox()
    inbox.crash_after = 2
    with pytest.raises(Crash):
        await sender(db, clock, planner, inbox, concurrency=1, lease_seconds=30).drain()
    assert len(inbox.delivered) == 2
    statuses = [r[4] for r in await rows(db)]
    assert statuses.count("sent") == 1 and statuses.count("sending") == 1  # the 2nd: delivered, not marked
    # A new process starts at once: the in-flight row is still leased, everything else goes out once.
    inbox.crash_after = None
    await sender(db, clock, planner, inbox).drain()
    assert len(inbox.delivered) == 5
    clock.advance(seconds=31)  # the lease runs out: the ambiguous row is settled, not resent
    result = await sender(db, clock, planner, inbox).drain()
    assert result.uncertain == 1 and len(inbox.delivered) == 5
    keys = [(m.rule, m.period, m.step, m.recipient) for m in inbox.delivered]
    assert len(keys) == len(set(keys))  # no duplicate
    assert sorted(r[4] for r in await rows(db)) == ["sent"] * 4 + ["uncertain"]


async def test_blocked_recipient_is_marked_inactive_and_never_retried(
        engine: Engine, demo: Demo, db: Database, content: Content, planner: Planner):
    users = await team(engine, demo)
    clock = FixedClock(at("2026-11-17 08:00"))
    await scheduling_pass(db, content, TZ, clock.now())
    inbox = Inbox()
    inbox.blocked.add(users["an"].user_id)
    inbox.flaky[users["binh"].user_id] = 1  # one network error, then fine
    result = await sender(db, clock, planner, inbox).drain()
    assert (result.sent, result.blocked, result.retried) == (3, 1, 1)
    clock.advance(seconds=3)  # after the first backoff
    assert (await sender(db, clock, planner, inbox).drain()).sent == 1
    active = await peek.rows(db, "identities", "active", where="external_id = ?", params=(users["an"].user_id,))
    assert [r[0] for r in active] == [0]
    clock.set(at("2026-11-19 08:00"))  # T−1: An is no longer reachable, so nothing is planned for An
    await scheduling_pass(db, content, TZ, clock.now())
    await sender(db, clock, planner, inbox).drain()
    assert inbox.texts(users["an"].user_id) == [] and len(inbox.texts(users["binh"].user_id)) == 2


async def test_quiet_hours_hold_ad_hoc_reminders_until_morning(
        engine: Engine, demo: Demo, db: Database, content: Content, planner: Planner, clock: FixedClock):
    users = await team(engine, demo)
    staff = ChatUser(engine, "canbo", channel="terminal")
    clock.set(at("2026-11-20 22:10"))
    answer = await staff.tap_data("g:remind:thang:2026-11")
    assert "Đã gửi nhắc tới 5 người ở 3 thôn" in answer and "07:00" in answer
    assert "đã nhắc" in await staff.tap_data("g:remind:thang:2026-11")  # a double tap: once a day
    inbox = Inbox()
    assert (await sender(db, clock, planner, inbox).drain()).sent == 0  # 22:10: nothing goes out
    clock.set(at("2026-11-21 06:59"))
    assert (await sender(db, clock, planner, inbox).drain()).sent == 0
    clock.set(at("2026-11-21 07:00"))
    assert (await sender(db, clock, planner, inbox).drain()).sent == 5
    assert "Cán bộ xã nhắc" in inbox.texts(users["dung"].user_id)[0]
    assert "5 người làm VNeID" in inbox.texts(users["dung"].user_id)[0]
    member = users["an"]
    assert "không dùng được" in await member.tap_data("g:remind:thang:2026-11")


async def test_a_village_that_reports_before_the_send_is_skipped(
        engine: Engine, demo: Demo, db: Database, content: Content, planner: Planner):
    users = await team(engine, demo)
    clock = FixedClock(at("2026-11-17 08:00"))
    await scheduling_pass(db, content, TZ, clock.now())
    await report(db, demo, 1, date(2026, 11, 17))  # a report alone does not stop the village's reminders
    assert "Đã chốt số liệu Ấp Mỹ Thạnh" in await users["leader0"].send("/chot dung 11")  # a confirmation does
    inbox = Inbox()
    result = await sender(db, clock, planner, inbox).drain()
    assert result.skipped == 3
    assert sorted(m.chat_id for m in inbox.delivered) == [users["dung"].user_id, users["leader2"].user_id]


async def test_weekly_digest_matches_the_week_and_can_be_turned_off(
        engine: Engine, demo: Demo, db: Database, content: Content, planner: Planner):
    users = await team(engine, demo)
    await report(db, demo, 0, date(2026, 11, 16), 5)
    await report(db, demo, 0, date(2026, 11, 18), 2, "chu_ky_so")
    await report(db, demo, 0, date(2026, 11, 17), 3, "thanh_toan")  # households: never added to people
    await report(db, demo, 2, date(2026, 11, 22), 9)
    await report(db, demo, 1, date(2026, 11, 23), 40)  # next week: not in this digest
    clock = FixedClock(at("2026-11-23 07:30"))
    inbox, terminal = Inbox(), Inbox()
    await scheduling_pass(db, content, TZ, clock.now())
    await OutboxSender(db, {"telegram": inbox, "terminal": terminal}, clock, rate=1000, per_chat_interval=0).drain()
    staff = plain_text(terminal.delivered[0].payload["text"])
    assert "16/11–22/11/2026" in staff and ": 3 hộ, 16 người" in staff
    assert "VNeID: 14 người" in staff and "Chữ ký số: 2 người" in staff and "Thanh toán: 3 hộ" in staff
    assert "1. Ấp Bình Hàng Trung: 9 người" in staff and "2. Ấp Mỹ Thạnh: 3 hộ, 7 người" in staff
    assert "Ấp Mỹ Phú" in staff.split("Chưa báo cáo tuần qua:")[1].split("\n")[0]
    leader = inbox.texts(users["leader0"].user_id)[0]
    assert "Ấp Mỹ Thạnh: 3 hộ, 7 người" in leader and "1 thành viên đã báo cáo" in leader
    assert inbox.texts(users["an"].user_id) == []  # members get no digest
    # Turning the digest off stops the digest, not the deadline reminders.
    assert "Đã tắt bản tin tuần" in await users["leader2"].send("/tatnhacnho")
    assert "đang tắt" in await users["leader2"].send("/tatnhacnho")
    clock.set(at("2026-11-30 07:30"))
    await scheduling_pass(db, content, TZ, clock.now())
    steps = [(r[0], r[3]) for r in await rows(db) if r[1] == "2026-W48"]
    assert ("digest", users["leader2"].user_id) not in steps and ("digest", users["leader0"].user_id) in steps
    clock.set(at("2026-12-17 08:00"))  # T−1 of December's monthly report
    await scheduling_pass(db, content, TZ, clock.now())
    assert any(r[3] == users["leader2"].user_id and r[2] == "eve" for r in await rows(db))
    assert "Đã bật" in await users["leader2"].send("/batnhacnho")


async def test_a_whole_year_of_passes_sends_each_step_once_on_time(
        engine: Engine, demo: Demo, db: Database, content: Content, planner: Planner):
    """Every cron firing of 2026, plus restarts at odd hours: each step enqueued once, at its time."""
    await team(engine, demo)
    moments = []
    day = date(2026, 1, 1)
    while day.year == 2026:
        moments += [datetime.combine(day, t, tzinfo=TZ) for t in planner.cron_times]
        if day.day == 9:  # a restart late in the evening and one in the night
            moments += [datetime.combine(day, t, tzinfo=TZ) for t in (datetime.min.time().replace(hour=22),)]
        day += timedelta(days=1)
    for moment in moments:
        await scheduling_pass(db, content, TZ, moment)
    found = await peek.rows(db, "outbox", "rule, period, step, MIN(due_at), COUNT(*), COUNT(DISTINCT recipient)",
                            where="rule != 'digest'", group="rule, period, step")
    expected = {(s.deadline.rule, s.deadline.key, s.step): s.at
                for s in planner.steps_between("x", at("2026-01-01 00:00"), at("2027-01-01 00:00"))}
    got = {(r[0], r[1], r[2]): datetime.fromisoformat(r[3]) for r in found}
    assert got == expected  # every step of the year, each at its own time (nobody reports: all are sent)
    for *_key, due_at, count, distinct in found:
        local = datetime.fromisoformat(due_at).astimezone(TZ)
        assert count == distinct and planner.work.is_working(local.date()) and not planner.is_quiet(local)
    digests = await peek.rows(db, "outbox", "period, COUNT(*)", where="rule = 'digest' AND step = 'staff'",
                              group="period")
    assert len(digests) == 52 and all(r[1] == 1 for r in digests)


async def test_hanchot_shows_status_and_staff_add_a_one_off_deadline(
        engine: Engine, demo: Demo, db: Database, clock: FixedClock):
    users = await team(engine, demo)
    an = users["an"]
    answer = await an.send("/hanchot")
    assert "Báo cáo quý" in answer and "10/12/2026" in answer and "Ấp Mỹ Thạnh chưa chốt số liệu" in answer
    assert "20/12/2026" in answer and "dời" not in answer
    await an.send("vneid 3")
    assert "Ấp Mỹ Thạnh chưa chốt số liệu" in await an.send("/hanchot")  # a report alone is not enough
    assert "tổ trưởng là người chốt" in await an.send("/chot dung quy 4")
    assert "Đã chốt số liệu Ấp Mỹ Thạnh – quý 4/2026 (01/10–31/12)" in await users["leader0"].send(
        "/chot dung quy 4")
    assert "Ấp Mỹ Thạnh đã chốt số liệu" in await an.send("/hanchot")
    assert "Chỉ cán bộ xã" in await an.send('/hanchot them 30/11 "Chiến dịch"')
    staff = ChatUser(engine, "canbo", channel="terminal")
    assert "Đã chốt số liệu: 1/6" in await staff.send("/hanchot")
    for bad, expected in [("/hanchot them 31/2 \"X\"", "chưa đúng"), ("/hanchot them 30/11", "Thiếu tên"),
                          ("/hanchot them 1/1/2020 \"X\"", "từ hôm nay"), ("/hanchot them", "Cách thêm")]:
        assert expected in await staff.send(bad)
    added = await staff.send('/hanchot them 30/11 "Chiến dịch VNeID"')
    assert "Đã thêm hạn Chiến dịch VNeID: 30/11/2026" in added and "25/11/2026" in added
    assert "Đã có hạn" in await staff.send("/hanchot them 30/11 “Chiến dịch VNeID”")
    assert "Chiến dịch VNeID" in await an.send("/hanchot")
    assert await peek.count(db, "custom_deadlines") == 1
    assert "(demo): thêm hạn số 1 «Chiến dịch VNeID» ngày 30/11/2026" in await staff.send("/nhatky")  # audit trail


async def test_a_past_day_is_refused_and_staff_remove_a_deadline_by_its_number(
        engine: Engine, demo: Demo, db: Database, clock: FixedClock):
    users = await team(engine, demo)
    staff = ChatUser(engine, "canbo", channel="terminal")
    refused = await staff.send('/hanchot them 15/11 "Đợt cũ"')  # today is 22/11/2026: not moved to next year
    assert "Ngày 15/11/2026 đã qua" in refused and "15/11/2027" in refused
    assert await peek.count(db, "custom_deadlines") == 0
    assert "Đã thêm hạn Đợt sau: 15/01/2027" in await staff.send('/hanchot them 15/1/2027 "Đợt sau"')
    await staff.send('/hanchot them 30/11 "Chiến dịch VNeID"')
    number = (await peek.rows(db, "custom_deadlines", "id", where="name = 'Chiến dịch VNeID'"))[0][0]
    shown = await staff.send("/hanchot")
    assert f"Chiến dịch VNeID – từ 22/11/2026 đến 30/11/2026: hạn 30/11/2026 · số {number}" in shown
    assert "Đợt sau" in shown and "/hanchot xoa SỐ" in shown  # a deadline staff added, however far
    assert "· số" not in await users["an"].send("/hanchot")  # members see no numbers
    assert "Chỉ cán bộ xã mới xóa" in await users["leader0"].send(f"/hanchot xoa {number}")
    assert "Gõ /hanchot xoa SỐ" in await staff.send("/hanchot xoa")
    assert "không có hạn số 999" in await staff.send("/hanchot xoa 999")
    assert await peek.count(db, "custom_deadlines") == 2
    assert f"Đã xóa hạn số {number} Chiến dịch VNeID (30/11/2026)" in await staff.send(f"/hanchot xoa {number}")
    assert "Chiến dịch VNeID" not in await staff.send("/hanchot")
    assert f"không có hạn số {number}" in await staff.send(f"/hanchot xoa {number}")
    assert f"xóa hạn số {number} «Chiến dịch VNeID» ngày 30/11/2026" in await staff.send("/nhatky")


async def test_terminal_chat_shows_due_reminders(
        engine: Engine, demo: Demo, db: Database, content: Content, planner: Planner, clock: FixedClock):
    await team(engine, demo)
    clock.set(at("2026-12-10 07:30"))  # due day of the quarterly report
    await scheduling_pass(db, content, TZ, clock.now())
    import io

    out = io.StringIO()
    chat = TerminalChat(engine, content, "canbo", stdout=out, inbox=terminal_inbox(db, clock, planner, "canbo"))
    await chat.send("/trogiup")
    text = out.getvalue()
    assert "Báo cáo quý" in text and "Chưa chốt" in text and "[1] 🔔 Nhắc lại" in text
    out.seek(0)
    out.truncate(0)
    await chat.send("1")  # the pushed option's digit
    assert "Đã gửi nhắc tới 5 người ở 3 thôn" in out.getvalue()
    assert "nhắc lại các thôn, ấp chưa chốt" in await ChatUser(engine, "canbo", channel="terminal").send("/nhatky")
    out.seek(0)
    out.truncate(0)
    await chat.send("/trogiup")
    assert "Báo cáo quý" not in out.getvalue()  # shown once


async def test_scheduler_runs_a_pass_on_start_and_has_deliberate_misfire_settings(
        engine: Engine, demo: Demo, db: Database, content: Content, planner: Planner):
    """After downtime the start-up pass enqueues the step still due; cron jobs coalesce and forgive misfires."""
    import asyncio

    from bot.runtime.scheduler import MISFIRE_GRACE_SECONDS, ReminderScheduler

    await team(engine, demo)
    clock = FixedClock(at("2026-11-19 10:00"))  # down since Monday: T−3 missed, T−1 (08:00) missed
    inbox = Inbox()
    scheduler = ReminderScheduler(db, content, clock, planner, sender(db, clock, planner, inbox))
    scheduler.start()
    try:
        for _ in range(200):
            if len(inbox.delivered) >= 8:
                break
            await asyncio.sleep(0.01)
        jobs = {job.id: job for job in scheduler.scheduler.get_jobs()}  # type: ignore[union-attr]
    finally:
        await scheduler.stop()
    # The T−3 step is superseded, sent never; the request to confirm (T−2) still stands.
    assert sorted({m.step for m in inbox.delivered}) == ["confirm", "eve"]
    assert len(inbox.delivered) == 8  # 5 reminders, 3 requests to confirm (2 leaders, 1 village without one)
    cron = [job for name, job in jobs.items() if name.startswith("pass-") and name != "pass-start"]
    assert {f"{j.trigger.fields[5]}:{j.trigger.fields[6]}" for j in cron} >= {"8:0", "7:30"}
    assert all(j.coalesce and j.misfire_grace_time == MISFIRE_GRACE_SECONDS for j in cron)
