"""The webhook's group commit (bot/handlers/webhooks.py GroupStore): requests arriving while a
store is under way are stored together by the next one, each answered once its own update is
stored; under load a group waits a moment for the requests the last one answered (never a lone
update after a quiet moment); a store that fails or is cancelled (a stop) leaves no request
waiting for ever."""

from __future__ import annotations

import asyncio

import pytest

from bot.handlers.webhooks import GroupStore
from bot.services.inbox import Delivered


class SlowInbox:
    channel = "test"

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.release = asyncio.Event()

    async def accept(self, updates: list[Delivered]) -> None:
        self.batches.append([u.key for u in updates])
        await self.release.wait()


def _update(key: str, chat: str | None = None) -> Delivered:
    return Delivered(key, chat or f"chat-{key}", "{}")


async def test_requests_arriving_during_a_store_are_stored_together_by_the_next() -> None:
    inbox = SlowInbox()
    group = GroupStore(inbox)  # type: ignore[arg-type]
    first = asyncio.create_task(group.store(_update("1")))
    await asyncio.sleep(0)
    others = [asyncio.create_task(group.store(_update(k))) for k in ("2", "3")]
    await asyncio.sleep(0)
    assert not first.done() and inbox.batches == [["1"]]
    inbox.release.set()
    await asyncio.wait_for(asyncio.gather(first, *others), 1)
    assert inbox.batches == [["1"], ["2", "3"]]


async def test_a_stop_during_a_store_leaves_no_request_waiting() -> None:
    inbox = SlowInbox()
    group = GroupStore(inbox)  # type: ignore[arg-type]
    first = asyncio.create_task(group.store(_update("1")))
    await asyncio.sleep(0)
    second = asyncio.create_task(group.store(_update("2")))
    await asyncio.sleep(0)
    assert group._storing is not None
    group._storing.cancel()  # what a shutdown does to the task storing
    for request in (first, second):
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(request, 1)  # not a TimeoutError: answered, not left hanging


async def test_a_group_takes_one_update_per_chat_the_next_ones_wait_in_order() -> None:
    inbox = SlowInbox()
    inbox.release.set()
    group = GroupStore(inbox)  # type: ignore[arg-type]
    first = asyncio.create_task(group.store(_update("0")))
    await asyncio.sleep(0)
    inbox.release.clear()
    stores = [asyncio.create_task(group.store(_update(k, chat))) for k, chat in
              (("1", "a"), ("2", "b"), ("3", "a"), ("4", "a"), ("5", "c"))]
    await asyncio.sleep(0)
    inbox.release.set()
    await asyncio.wait_for(asyncio.gather(first, *stores), 1)
    assert inbox.batches == [["0"], ["1", "2", "5"], ["3"], ["4"]]


class Busy:
    def __init__(self, chats: set[str]) -> None:
        self.chats = chats

    def busy(self, chat: str) -> bool:
        return chat in self.chats


async def test_a_text_is_handled_in_its_request_only_when_nothing_older_of_its_chat_can_wait() -> None:
    """A direct update goes to the group's handler unless its chat has an update in the
    dispatcher or a replay of the table is under way: then it is stored and waits its turn."""
    inbox = SlowInbox()
    inbox.release.set()
    inbox.dispatcher = Busy({"busy"})  # type: ignore[attr-defined]
    inbox.replaying = 0  # type: ignore[attr-defined]
    handled: list[list[str]] = []

    async def handle(updates):  # type: ignore[no-untyped-def]
        handled.append([u.key for u in updates])
        return [f"reply {u.key}".encode() for u in updates]

    group = GroupStore(inbox, handle)  # type: ignore[arg-type]
    answers = await asyncio.gather(group.store(_update("1"), direct=True), group.store(_update("2", "busy"), True),
                                   group.store(_update("3"), direct=False))
    assert answers == [b"reply 1", None, None]
    assert handled == [["1"]] and inbox.batches == [["2", "3"]]
    inbox.replaying = 1  # type: ignore[attr-defined]
    assert await group.store(_update("4"), direct=True) is None
    assert handled == [["1"]] and inbox.batches[-1] == ["4"]



async def _a_group_of_three(group: GroupStore) -> None:
    await asyncio.wait_for(asyncio.gather(*(group.store(_update(k)) for k in ("a", "b", "c"))), 1)


async def test_under_load_a_group_waits_for_the_requests_the_last_one_answered() -> None:
    """The three answered come back one after the other: the first waits for the others, so
    they go as one group (one commit), not as a group of one and then one of two."""
    inbox = SlowInbox()
    inbox.release.set()
    group = GroupStore(inbox, gather=5)  # type: ignore[arg-type]
    await _a_group_of_three(group)
    back = [asyncio.create_task(group.store(_update("d")))]
    await asyncio.sleep(0.02)
    assert not back[0].done() and inbox.batches == [["a", "b", "c"]]  # gathering
    back += [asyncio.create_task(group.store(_update(k))) for k in ("e", "f")]
    await asyncio.wait_for(asyncio.gather(*back), 1)  # the third came: no waiting out the 5 s
    assert inbox.batches == [["a", "b", "c"], ["d", "e", "f"]]


async def test_a_gathering_waits_no_longer_than_its_time() -> None:
    inbox = SlowInbox()
    inbox.release.set()
    group = GroupStore(inbox, gather=0.05)  # type: ignore[arg-type]
    await _a_group_of_three(group)
    await asyncio.wait_for(group.store(_update("d")), 1)  # the others never come
    assert inbox.batches == [["a", "b", "c"], ["d"]]


async def test_a_lone_update_is_stored_at_once_after_a_group_of_one_or_a_quiet_moment() -> None:
    inbox = SlowInbox()
    inbox.release.set()
    group = GroupStore(inbox, gather=0.3)  # type: ignore[arg-type]
    await asyncio.wait_for(group.store(_update("a")), 0.1)
    await asyncio.wait_for(group.store(_update("b")), 0.1)  # after a group of one: nobody to wait for
    await _a_group_of_three(group)
    await asyncio.sleep(0.35)  # longer ago than a gathering's time: not under load
    await asyncio.wait_for(group.store(_update("z")), 0.1)
    assert inbox.batches == [["a"], ["b"], ["a", "b", "c"], ["z"]]


async def test_a_stop_while_gathering_leaves_no_request_waiting() -> None:
    inbox = SlowInbox()
    inbox.release.set()
    group = GroupStore(inbox, gather=5)  # type: ignore[arg-type]
    await _a_group_of_three(group)
    request = asyncio.create_task(group.store(_update("d")))
    await asyncio.sleep(0.02)
    assert group._storing is not None and not request.done()
    group._storing.cancel()  # a shutdown
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(request, 1)
    assert inbox.batches == [["a", "b", "c"]]  # nothing stored, and Telegram sends it again
