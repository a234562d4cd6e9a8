"""Zalo delivery for the outbox: one row -> one ``sendMessage`` (in parts if long), errors classified.

Like ``telegram_outbox``: 403 = the user blocked the bot, 429 = flood control, another 4xx =
a request Zalo will never accept, a 5xx or a connection that never opened = try again
later, and a transport error after the request may have left = uncertain (Zalo has no
idempotency key either, so trying again could send the message twice).
"""

from __future__ import annotations

from bot.handlers.zalo import BLOCKED_CODES, RETRY_CODES, ZaloAdapter, ZaloError, ZaloNetworkError, split_text
from bot.services.outbox import BLOCKED, PERMANENT, RETRY_AFTER, SENT, TRANSIENT, UNCERTAIN, Deliver, Delivery
from bot.services.reminders import reply_of
from storage.models import OutboxMessage


def zalo_delivery(adapter: ZaloAdapter) -> Deliver:
    """Rows rendered as the adapter renders replies (options as typed keys)."""
    client = adapter.client

    async def deliver(message: OutboxMessage) -> Delivery:
        parts = split_text(adapter.render(reply_of(message.payload)))
        for number, part in enumerate(parts):
            try:
                await client.send_message(message.chat_id, part)
            except ZaloError as exc:
                if number > 0:  # the first part is out: sending the row again would repeat it
                    return Delivery(UNCERTAIN, f"part {number + 1}/{len(parts)}: {exc}")
                if exc.code in BLOCKED_CODES or (exc.code == 400 and "not found" in exc.description.lower()):
                    return Delivery(BLOCKED, str(exc))  # blocked, or the chat is gone
                if exc.code in RETRY_CODES:
                    return Delivery(RETRY_AFTER, str(exc), exc.retry_after or 1.0)
                if exc.code >= 500:
                    return Delivery(TRANSIENT, str(exc))
                return Delivery(PERMANENT, str(exc))
            except ZaloNetworkError as exc:
                if number > 0 or exc.may_have_arrived:
                    return Delivery(UNCERTAIN, str(exc))
                return Delivery(TRANSIENT, str(exc))
        return Delivery(SENT)

    return deliver
