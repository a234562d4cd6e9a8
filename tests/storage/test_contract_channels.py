"""The storage contract, every backend: channels (issue 15). A push budget counted per channel
and month, a pause until the month turns or an operator resumes, rows held by channel or rule,
and one member on two channels (the identity used last, one-time link codes, unlinking)."""

from __future__ import annotations

from datetime import timedelta

from support.helpers import NOW

from storage import Database
from storage.models import NewMessage


async def test_pushes_are_counted_per_month_and_a_pause_ends_with_the_month(backend: Database):
    async with backend.uow() as uow:
        assert await uow.channels.quota("zalo") is None
        await uow.channels.set_budget("zalo", "2026-03", 500, NOW)
        for _ in range(3):
            await uow.channels.count_sent("zalo", "2026-03", NOW)
        await uow.channels.count_sent("telegram", "2026-03", NOW, sent=2)
    async with backend.uow() as uow:
        quota = await uow.channels.quota("zalo")
        assert quota is not None and (quota.sent_in("2026-03"), quota.budget) == (3, 500)
        assert quota.sent_in("2026-04") == 0
        assert await uow.channels.pause("zalo", "quota", "2026-03", NOW)
        assert not await uow.channels.pause("zalo", "quota", "2026-03", NOW)  # once
    async with backend.uow() as uow:
        quota = await uow.channels.quota("zalo")
        assert quota is not None and quota.paused_in("2026-03") == "quota" and quota.paused_in("2026-04") is None
        await uow.channels.count_replies("zalo", "2026-03", NOW, replies=4)
        quota = await uow.channels.quota("zalo")
        assert quota is not None and (quota.sent_in("2026-03"), quota.replies_in("2026-03")) == (3, 4)
        assert quota.used_in("2026-03") == 7
        await uow.channels.count_sent("zalo", "2026-04", NOW)  # a new month starts the count again
        quota = await uow.channels.quota("zalo")
        assert quota is not None and (quota.sent_in("2026-04"), quota.replies_in("2026-04")) == (1, 0)
        await uow.channels.count_replies("zalo", "2026-05", NOW, replies=2)  # and so do replies
        quota = await uow.channels.quota("zalo")
        assert quota is not None and (quota.sent_in("2026-05"), quota.replies_in("2026-05")) == (0, 2)
        assert await uow.channels.resume("zalo", NOW) and not await uow.channels.resume("zalo", NOW)
        assert [q.channel for q in await uow.channels.quotas()] == ["telegram", "zalo"]


async def test_held_rows_are_not_due_and_a_released_row_is_pending_again(backend: Database):
    rows = [NewMessage("announce", "1", "msg", None, "zalo", "z1", {"text": "a"}, NOW),
            NewMessage("monthly", "2026-03", "eve", None, "zalo", "z2", {"text": "b"}, NOW),
            NewMessage("announce", "1", "msg", None, "telegram", "t1", {"text": "c"}, NOW)]
    async with backend.uow() as uow:
        await uow.outbox.enqueue(rows, NOW)
        assert len(await uow.outbox.due(NOW, 10)) == 3
        assert [r.chat_id for r in await uow.outbox.due(NOW, 10, held={"zalo": None})] == ["t1"]
        low = await uow.outbox.due(NOW, 10, held={"zalo": ("announce", "digest")})
        assert sorted(r.chat_id for r in low) == ["t1", "z2"]
        assert await uow.channels.queued() == {"telegram": 1, "zalo": 2}
        row = (await uow.outbox.due(NOW, 10, chat_id="z1"))[0]
        assert await uow.outbox.claim(row.id, NOW, NOW + timedelta(minutes=1), "me")
        await uow.outbox.release(row.id, "429: Quota exceeded")
        again = await uow.outbox.due(NOW, 10, chat_id="z1")
        assert [(r.id, r.attempts, r.status) for r in again] == [(row.id, 0, "pending")]


async def test_one_member_on_two_channels(backend: Database, commune):
    member = commune.members[0]
    async with backend.uow() as uow:
        await uow.channels.add_link_code("482913", member.id, "telegram", NOW + timedelta(minutes=10), NOW)
        assert await uow.channels.take_link_code("000000", NOW) is None
        assert await uow.channels.take_link_code("482913", NOW + timedelta(minutes=11)) is None  # too late
        await uow.channels.add_link_code("482914", member.id, "telegram", NOW + timedelta(minutes=10), NOW)
        taken = await uow.channels.take_link_code("482914", NOW)
        assert taken is not None and taken[0].id == member.id and taken[1] == "telegram"
        assert await uow.channels.take_link_code("482914", NOW) is None  # once
        await uow.members.link_identity(member.id, "zalo", "z-9", "z-9", NOW)
        await uow.channels.seen("zalo", "z-9", NOW + timedelta(minutes=1))
        assert [i[0] for i in await uow.channels.identities(member.id)] == ["zalo", "telegram"]
        await uow.channels.seen("telegram", "u-lan", NOW + timedelta(minutes=2))
        assert [i[0] for i in await uow.channels.identities(member.id)] == ["telegram", "zalo"]
        assert (await uow.members.by_identity("zalo", "z-9")).id == member.id  # type: ignore[union-attr]
        assert await uow.channels.unlink(member.id, "telegram", "u-lan") == [("zalo", "z-9")]
        assert [i[0] for i in await uow.channels.identities(member.id)] == ["telegram"]
        await uow.channels.add_link_code("482915", member.id, "telegram", NOW + timedelta(minutes=10), NOW)
        await uow.members.forget(member.id)
        assert await uow.channels.identities(member.id) == []
        assert await uow.channels.take_link_code("482915", NOW) is None


async def test_staff_elsewhere_are_staff_on_another_channel(backend: Database, commune):
    async with backend.uow() as uow:
        await uow.members.link_identity(commune.staff.id, "zalo", "z-s", "z-s", NOW)
        assert await uow.channels.staff_elsewhere("zalo") == [(commune.staff.id, "telegram", "c-staff")]
        assert await uow.channels.staff_elsewhere("telegram") == [(commune.staff.id, "zalo", "z-s")]


async def test_wrong_link_codes_are_counted_per_subject_within_a_window(backend: Database):
    since = NOW - timedelta(minutes=30)
    async with backend.uow() as uow:
        assert await uow.channels.link_failures(["chat-a", "user-a"], since) == (0, None)
        for minute in range(3):
            await uow.channels.add_link_failure(["chat-a", "user-a"], since, NOW + timedelta(minutes=minute))
        await uow.channels.add_link_failure(["chat-b", "user-a"], since, NOW + timedelta(minutes=5))
    async with backend.uow() as uow:
        assert await uow.channels.link_failures(["chat-a", "user-x"], since) == (3, NOW)
        assert await uow.channels.link_failures(["chat-b", "user-a"], since) == (4, NOW)  # the account: 4
        assert await uow.channels.link_failures(["chat-z", "user-z"], since) == (0, None)
        later = NOW + timedelta(minutes=31)  # the window of the first wrong code has passed
        assert await uow.channels.link_failures(["chat-a"], later - timedelta(minutes=30)) == (0, None)
        await uow.channels.add_link_failure(["chat-a"], later - timedelta(minutes=30), later)
        assert await uow.channels.link_failures(["chat-a"], later - timedelta(minutes=30)) == (1, later)
        await uow.channels.clear_link_failures(["chat-a", "user-a"])
        assert await uow.channels.link_failures(["chat-a", "user-a"], later - timedelta(minutes=30)) == (0, None)
