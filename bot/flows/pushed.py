"""The options of a push (a request to confirm figures, "nhắc lại" for staff) on a channel
where people type: the digits that choose them, registered in the chat's conversation.

A push answers no message, so no step offered its options and their keys would mean nothing
typed. Before a text-only channel (Zalo, the terminal) sends one, :func:`offer` keys its
global options (``g:``, valid whatever the chat does next) with digits the chat's pending step
does not use (1, 2 in an idle chat, as the same options are keyed in a flow; "0" always
cancels) and stores them (``PUSHED_FIELD``). The engine takes them for the chat's next message
after the pending step's own keys and typed answers: "6" in a count step stays six households.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime

from bot.domain.messages import Option, Reply
from bot.flows.context import CANCEL_KEY, GLOBAL_PREFIX, KEYS_FIELD, PUSHED_FIELD
from storage import Database
from storage.models import Conversation


def _free(taken: set[str]) -> Iterator[str]:
    n = 1
    while True:
        if str(n) not in taken and str(n) != CANCEL_KEY:
            yield str(n)
        n += 1


async def offer(db: Database, channel: str, chat_id: str, reply: Reply, now: datetime) -> Reply:
    """``reply`` with its global options keyed by digits free in the chat, the keys stored."""
    if not any(o.data.startswith(GLOBAL_PREFIX) for row in reply.options for o in row):
        return reply
    async with db.uow() as uow:
        await uow.conversations.lock(channel, chat_id)  # an update of the chat being handled finishes first
        conv = await uow.conversations.load(channel, chat_id)
        pushed = dict(conv.data.get(PUSHED_FIELD) or {})
        free = _free(set(conv.data.get(KEYS_FIELD) or {}) | set(pushed))

        def keyed(option: Option) -> Option:
            if not option.data.startswith(GLOBAL_PREFIX):
                return option
            key = next(free)
            pushed[key] = option.data
            return replace(option, key=key)

        rows = tuple(tuple(keyed(option) for option in row) for row in reply.options)
        data = {**conv.data, PUSHED_FIELD: pushed}
        await uow.conversations.save(channel, chat_id, Conversation(conv.flow, conv.step, data, conv.version), now)
    return replace(reply, options=rows)
