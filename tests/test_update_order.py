"""Concurrent Telegram updates: other chats are not held up, one chat's updates keep their order."""

from __future__ import annotations

import asyncio

from telegram import Update

from bot.handlers.telegram_updates import PerChatUpdateProcessor


def update(update_id: int, chat_id: int) -> Update:
    return Update.de_json({"update_id": update_id, "message": {
        "message_id": update_id, "date": 0, "text": "x", "chat": {"id": chat_id, "type": "private"},
        "from": {"id": chat_id, "is_bot": False, "first_name": "A"}}}, None)


async def test_a_slow_chat_holds_up_only_itself():
    processor = PerChatUpdateProcessor(8)
    events: list[str] = []
    slow = asyncio.Event()

    async def work(name: str, gate: asyncio.Event | None = None) -> None:
        events.append(f"start {name}")
        if gate is not None:
            await gate.wait()
        events.append(f"end {name}")

    tasks = [
        asyncio.create_task(processor.process_update(update(1, 100), work("A1", slow))),
        asyncio.create_task(processor.process_update(update(2, 100), work("A2"))),
        asyncio.create_task(processor.process_update(update(3, 200), work("B1"))),
    ]
    for _ in range(20):
        await asyncio.sleep(0)
    # B1 of another chat is done while A1 waits; A2 has not even started: it is queued behind A1.
    assert events == ["start A1", "start B1", "end B1"]
    slow.set()
    await asyncio.gather(*tasks)
    assert events[3:] == ["end A1", "start A2", "end A2"]
    assert processor._chats == {}  # nothing kept for chats that went quiet
