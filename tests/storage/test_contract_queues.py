"""The storage contract, every backend: the queues. The inbox (updates stored before they are
acknowledged, claimed once, set aside after failing, pruned a window at a time: issue 11,
item 6), the outbox (pushed messages, unique by key, claimed and settled once) and the
announcements that fan out through it."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from support.helpers import TZ

from bot.runtime.scheduler import prune_inbox
from storage import Database, encode_outbox
from storage.models import COPY_STEP, MAX_ATTEMPTS, RULE, Conversation, NewMessage, NewReport

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=TZ)


async def test_prune_in_windows_forgets_old_marks_keeps_recent_and_waiting(backend: Database, monkeypatch):
    import storage.sql.inbox as inbox_module

    monkeypatch.setattr(inbox_module, "PRUNE_WINDOW", 7)  # many windows over 60 rows
    async with backend.uow() as uow:
        for n in range(20):
            await uow.inbox.claim("telegram", f"old{n:02d}", NOW - timedelta(days=8))
            await uow.inbox.claim("zalo", f"new{n:02d}", NOW - timedelta(hours=1))
        await uow.inbox.store("telegram", [(f"wait{n:02d}", '{"x": 1}', n + 1) for n in range(20)],
                              NOW - timedelta(days=9))
    trips: list[int] = []
    real_run = backend.run

    async def counting_run(work, durable=False):  # type: ignore[no-untyped-def]
        trips.append(1)
        return await real_run(work, durable)

    monkeypatch.setattr(backend, "run", counting_run)
    assert await prune_inbox(backend, NOW - timedelta(days=7)) == 20
    assert len(trips) > 5  # windows, each a unit of work of its own
    async with backend.uow() as uow:
        assert await uow.inbox.claim("telegram", "old03", NOW)  # forgotten: would be handled again
        assert not await uow.inbox.claim("zalo", "new03", NOW)  # still known: a redelivery
        assert await uow.inbox.count_waiting("telegram") == 20  # waiting updates are never pruned
    assert await prune_inbox(backend, NOW - timedelta(days=7)) == 0


async def test_prune_of_an_empty_inbox(backend: Database):
    assert await prune_inbox(backend, NOW) == 0


# The inbox ------------------------------------------------------------------------------------
async def test_claim_is_exactly_once(backend: Database):
    async with backend.uow() as uow:
        assert await uow.inbox.claim("telegram", "1", NOW)
        assert not await uow.inbox.claim("telegram", "1", NOW)
        assert await uow.inbox.claim("zalo", "1", NOW)


async def test_old_claims_are_pruned_recent_ones_kept(backend: Database):
    async with backend.uow() as uow:
        await uow.inbox.claim("telegram", "old", NOW - timedelta(days=8))
        await uow.inbox.claim("telegram", "new", NOW - timedelta(hours=1))
        assert await uow.inbox.prune(NOW - timedelta(days=7)) == 1
        assert await uow.inbox.claim("telegram", "old", NOW)  # forgotten
        assert not await uow.inbox.claim("telegram", "new", NOW)  # still a redelivery


async def test_a_batch_is_stored_by_one_statement_outside_a_transaction(backend: Database):
    """The webhook's store (``run(..., single=True)``): one statement, durable by itself; a key
    twice in one batch is new once, one stored before is not new, a stored one outlives the call."""
    def store(batch):  # type: ignore[no-untyped-def]
        return backend.run(lambda uow: uow.inbox.store("telegram", batch, NOW), durable=True, single=True)

    assert await store([("s1", '{"n": 1}', 1)]) == ["s1"]
    assert await store([("s2", "{}", 2), ("s1", "{}", 3), ("s3", "{}", 4), ("s2", "{}", 5)]) == ["s2", "s3"]
    assert await store([("s3", "{}", 6)]) == []
    async with backend.uow() as uow:
        assert [(u.key, u.payload) for u in await uow.inbox.waiting("telegram")] == [
            ("s1", '{"n": 1}'), ("s2", "{}"), ("s3", "{}")]


async def test_stored_updates_wait_in_arrival_order_and_a_redelivery_is_not_new(backend: Database):
    async with backend.uow() as uow:
        assert await uow.inbox.store("telegram", [("u3", '{"n": 3}', 3), ("u1", '{"n": 1}', 1)], NOW) == ["u3", "u1"]
        assert await uow.inbox.store("telegram", [("u1", '{"n": "again"}', 7), ("u2", '{"n": 2}', 2)], NOW) == ["u2"]
        assert await uow.inbox.store("zalo", [("u1", "{}", 1)], NOW) == ["u1"]  # keys are per channel
        waiting = await uow.inbox.waiting("telegram")
        assert [(u.key, u.payload, u.seq, u.attempts) for u in waiting] == [
            ("u1", '{"n": 1}', 1, 0), ("u2", '{"n": 2}', 2, 0), ("u3", '{"n": 3}', 3, 0)]
        assert [u.key for u in await uow.inbox.waiting("telegram", after_seq=1, limit=1)] == ["u2"]
        assert (await uow.inbox.count_waiting("telegram"), await uow.inbox.count_waiting()) == (3, 4)
        assert await uow.inbox.claim("telegram", "u2", NOW)  # handled: no longer waiting
        assert not await uow.inbox.claim("telegram", "u2", NOW)
        assert [u.key for u in await uow.inbox.waiting("telegram")] == ["u1", "u3"]
        assert await uow.inbox.store("telegram", [("u2", "{}", 9)], NOW) == []  # processed, not yet pruned


async def test_an_update_that_keeps_failing_is_set_aside(backend: Database):
    async with backend.uow() as uow:
        await uow.inbox.store("zalo", [("bad", "{}", 1), ("good", "{}", 2)], NOW)
        assert [await uow.inbox.failed("zalo", "bad", NOW) for _ in range(MAX_ATTEMPTS)] == [False, False, True]
        assert [(u.key, u.attempts) for u in await uow.inbox.waiting("zalo")] == [("good", 0)]
        assert not await uow.inbox.failed("zalo", "bad", NOW)  # set aside: no longer counted
        assert not await uow.inbox.claim("zalo", "bad", NOW)  # nor handled again
        assert not await uow.inbox.failed("zalo", "never-stored", NOW)


async def test_a_claim_loads_the_sender_and_the_conversation_in_one_go(backend: Database, commune):
    lan = commune.members[0]
    async with backend.uow() as uow:
        await uow.conversations.save("telegram", "c-lan", Conversation("report", "count", {"service": "vneid"}, 4), NOW)
        await uow.inbox.store("telegram", [("w1", '{"text": "5"}', 1)], NOW)
        assert await uow.open_inbound("telegram", "w1", "u-lan", "c-lan", NOW) == (
            True, lan, Conversation("report", "count", {"service": "vneid"}, 4))
        assert await uow.inbox.waiting("telegram") == []  # claimed, its payload gone with it
        assert await uow.open_inbound("telegram", "w1", "u-lan", "c-lan", NOW) == (False, None, Conversation())
        assert await uow.inbox.claim_and_load("terminal", "t1", "nobody", "c9", NOW) == (True, None, Conversation())


async def test_a_group_of_updates_is_claimed_and_loaded_each_as_alone(backend: Database, commune):
    """A webhook's group (several chats, one unit of work): each update claimed and loaded as
    :meth:`open_inbound` would, a redelivered one found handled, a waiting one claimed."""
    lan = commune.members[0]
    async with backend.uow() as uow:
        await uow.conversations.save("telegram", "c-lan", Conversation("report", "count", {"service": "cks"}, 2), NOW)
        await uow.inbox.store("telegram", [("g2", "{}", 1)], NOW)  # stored to wait before
        await uow.open_inbound("telegram", "g3", "u-x", "c-x", NOW)  # handled before
        found = await uow.open_inbound_many(
            "telegram", [("g1", "u-lan", "c-lan"), ("g2", "nobody", "c-9"), ("g3", "u-x", "c-x")], NOW)
        assert found == [(True, lan, Conversation("report", "count", {"service": "cks"}, 2)),
                         (True, None, Conversation()), (False, None, Conversation())]
        assert await uow.inbox.waiting("telegram") == []
        assert not await uow.inbox.claim("telegram", "g1", NOW)  # claimed by the group
        await uow.conversations.save_many("telegram", [("c-lan", Conversation()), ("c-9", Conversation("join", "x"))],
                                          NOW)  # the group's new conversations, saved together at its end
        assert await uow.conversations.load("telegram", "c-lan") == Conversation()
        assert await uow.conversations.load("telegram", "c-9") == Conversation("join", "x")


# The outbox -----------------------------------------------------------------------------------
def message(chat: str, due: datetime = NOW, step: str = "before", **kw) -> NewMessage:  # type: ignore[no-untyped-def]
    return NewMessage("thang", "2026-11", step, None, "telegram", chat, {"text": f"Nhắc {chat}"}, due, **kw)


async def test_enqueueing_is_unique_by_key_and_due_rows_come_oldest_first(backend: Database):
    later = NOW + timedelta(hours=1)
    async with backend.uow() as uow:
        assert await uow.outbox.enqueue([message("c2", later), message("c1"), message("c3", step="eve")], NOW) == 3
        assert await uow.outbox.enqueue([message("c1"), message("c4")], NOW) == 1  # c1 is queued already
        due = await uow.outbox.due(NOW, 10)
        assert [(m.chat_id, m.step, m.status, m.attempts, m.payload) for m in due] == [
            ("c1", "before", "pending", 0, {"text": "Nhắc c1"}), ("c3", "eve", "pending", 0, {"text": "Nhắc c3"}),
            ("c4", "before", "pending", 0, {"text": "Nhắc c4"})]
        assert due[0].recipient == "c1/telegram" and due[0].due_at == NOW
        assert [m.chat_id for m in await uow.outbox.due(later, 10)] == ["c1", "c3", "c4", "c2"]
        assert [m.chat_id for m in await uow.outbox.due(NOW, 10, chat_id="c3")] == ["c3"]
        assert await uow.outbox.due(NOW, 10, channel="zalo") == []
        assert await uow.outbox.next_due_at(("telegram",)) == NOW
        assert await uow.outbox.next_due_at(("zalo",)) is None
        assert await uow.outbox.counts() == {"pending": 4}


async def test_a_row_is_claimed_once_then_settled(backend: Database):
    lease = NOW + timedelta(minutes=1)
    async with backend.uow() as uow:
        await uow.outbox.enqueue([message(f"c{n}") for n in range(5)], NOW)
        ids = [m.id for m in await uow.outbox.due(NOW, 10)]
        assert await uow.outbox.claim(ids[0], NOW, lease, "sender-a")
        assert not await uow.outbox.claim(ids[0], NOW, lease, "sender-b")  # another sender has it
        await uow.outbox.mark_sent(ids[0], NOW)
        assert not await uow.outbox.claim(ids[0], NOW, lease, "sender-a")  # settled
        for n in (1, 2, 3):
            assert await uow.outbox.claim(ids[n], NOW, lease, "sender-a")
        await uow.outbox.mark_retry(ids[1], NOW + timedelta(seconds=30), "timed out")
        await uow.outbox.mark_final(ids[2], "failed", "bad request")
        assert await uow.outbox.mark_uncertain([ids[3], ids[4]], "sender-b", "cut") == 0  # not this sender's
        assert await uow.outbox.mark_uncertain([ids[3], ids[4]], "sender-a", "cut") == 1  # only what it claimed
        assert await uow.outbox.counts() == {"sent": 1, "pending": 2, "failed": 1, "uncertain": 1}
        assert [m.chat_id for m in await uow.outbox.due(NOW, 10)] == ["c4"]  # the retry is due later
        retry = await uow.outbox.due(NOW + timedelta(seconds=30), 10)
        assert [(m.chat_id, m.attempts) for m in retry] == [("c4", 0), ("c1", 1)]  # by due time


async def test_housekeeping_skips_expires_and_settles_what_a_dead_sender_held(backend: Database, commune):
    lan, village = commune.members[0], commune.villages[0]
    covers = {"village_id": village.id, "covers_start": date(2026, 11, 1), "covers_end": date(2026, 11, 30)}
    async with backend.uow() as uow:
        await uow.outbox.enqueue([message("reported", **covers), message("expired", expires_at=NOW),
                                  message("held"), message("waits")], NOW - timedelta(hours=1))
        held = next(m.id for m in await uow.outbox.due(NOW, 10) if m.chat_id == "held")
        assert await uow.outbox.claim(held, NOW, NOW + timedelta(seconds=30), "dead-sender")
        await uow.reports.add_batch("b1", lan.id, village.id, [NewReport("vneid", 1)], date(2026, 11, 20), "text", NOW)
        # A report alone does not stop the village's reminders: its leader's confirmation does.
        assert sorted(m.chat_id for m in await uow.outbox.due(NOW, 10)) == ["reported", "waits"]
        await uow.cycle.confirm(commune.commune.id, village.id, "2026-11", date(2026, 11, 1), date(2026, 11, 30),
                                lan.id, NOW, {"vneid": 1}, True)
        assert [m.chat_id for m in await uow.outbox.due(NOW, 10)] == ["waits"]  # never one housekeeping would drop
        later = NOW + timedelta(minutes=1)
        assert await uow.outbox.housekeep(later) == {"skipped": 1, "expired": 1, "uncertain": 1}
        assert await uow.outbox.housekeep(later) == {"skipped": 0, "expired": 0, "uncertain": 0}
        assert await uow.outbox.counts() == {"skipped": 1, "expired": 1, "uncertain": 1, "pending": 1}


async def test_a_chat_that_blocked_the_bot_gets_nothing_more(backend: Database):
    async with backend.uow() as uow:
        await uow.outbox.enqueue([message("c1"), message("c1", step="eve"), message("c2")], NOW)
        assert await uow.outbox.drop_pending_for_chat("telegram", "c1", "blocked") == 2
        assert await uow.outbox.counts() == {"blocked": 2, "pending": 1}
        listing = await uow.outbox.listing("thang", "2026-11")
        assert [(r[2], r[5], r[6]) for r in listing] == [("before", "c1", "blocked"), ("eve", "c1", "blocked"),
                                                         ("before", "c2", "pending")]
        assert await uow.outbox.listing("digest") == []


async def test_encoded_messages_are_enqueued_like_messages(backend: Database):
    rows = encode_outbox([message("c1"), message("c2")], NOW)  # outside the unit of work
    async with backend.uow() as uow:
        assert await uow.outbox.enqueue_rows(rows) == 2
        assert await uow.outbox.enqueue_rows(rows) == 0
        assert [m.payload for m in await uow.outbox.due(NOW, 10)] == [{"text": "Nhắc c1"}, {"text": "Nhắc c2"}]


# Announcements --------------------------------------------------------------------------------
async def test_an_announcement_fans_out_then_is_summed_up_once(backend: Database, commune):
    staff = commune.staff
    async with backend.uow() as uow:
        announcement = await uow.announcements.add(commune.commune.id, commune.commune.id,
                                                   (staff.id, "telegram", "c-staff"), "Họp tổ", 2, NOW, queued_after=0)
        assert [(f.id, f.scope_unit_id, f.text, f.queued_after) for f in await uow.announcements.fanning_out()] == [
            (announcement, commune.commune.id, "Họp tổ", 0)]
        assert await uow.announcements.open() == []  # copies still to queue: no summary yet
        lan = commune.members[0]
        copy = NewMessage(RULE, str(announcement), COPY_STEP, lan.id, "telegram", "c-lan", {"text": "Họp tổ"}, NOW)
        await uow.outbox.enqueue([copy], NOW)
        assert await uow.announcements.queued_through(announcement, 0, lan.id, done=False)
        assert not await uow.announcements.queued_through(announcement, 0, lan.id, done=False)  # moved on already
        assert [f.queued_after for f in await uow.announcements.fanning_out()] == [lan.id]
        assert await uow.announcements.queued_through(announcement, lan.id, lan.id, done=True)
        assert await uow.announcements.fanning_out() == []
        opened = await uow.announcements.open()
        assert [(a.id, a.author_id, a.author_channel, a.author_chat, a.recipients) for a in opened] == [
            (announcement, staff.id, "telegram", "c-staff", 1)]  # the copies actually queued
        assert await uow.announcements.delivery(announcement) == {"pending": 1}
        copy_id = (await uow.outbox.due(NOW, 10))[0].id
        await uow.outbox.claim(copy_id, NOW, NOW + timedelta(minutes=1), "s")
        await uow.outbox.mark_sent(copy_id, NOW)
        assert await uow.announcements.delivery(announcement) == {"sent": 1}
        assert await uow.announcements.close(announcement, NOW)
        assert not await uow.announcements.close(announcement, NOW)  # the summary goes once
        assert await uow.announcements.open() == []


async def test_an_announcement_queued_at_once_is_open_at_once(backend: Database, commune):
    async with backend.uow() as uow:
        announcement = await uow.announcements.add(commune.commune.id, commune.villages[0].id,
                                                   (commune.staff.id, "zalo", "z1"), "Tin", 0, NOW)
        assert await uow.announcements.fanning_out() == []
        assert [(a.id, a.recipients) for a in await uow.announcements.open()] == [(announcement, 0)]
        assert await uow.announcements.delivery(announcement) == {}
