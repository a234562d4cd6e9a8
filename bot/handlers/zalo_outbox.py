"""Zalo delivery for the outbox: one row -> one ``sendMessage`` (in parts if long), errors classified
by Zalo's documented codes.

403 "Internal server error" and 5xx: a server error, try again later (never "the user blocked
the bot": Zalo has no such code); 429 "Quota exceeded": the bot's quota is spent, the row waits
and pushing stops for the channel (``PAUSE``, see bot.services.quota); 401: the token is refused,
likewise; another 4xx: a request Zalo will never accept; a connection that never opened: try
again later; a transport error after the request may have left: uncertain (Zalo has no
idempotency key, so trying again could send the message twice).
"""

from __future__ import annotations

from bot.flows import pushed
from bot.handlers.zalo import (
    CHANNEL,
    QUOTA_EXCEEDED,
    TOKEN_REFUSED,
    ZaloAdapter,
    ZaloError,
    ZaloNetworkError,
    split_text,
)
from bot.services.outbox import PAUSE, PERMANENT, SENT, TRANSIENT, UNCERTAIN, Deliver, Delivery
from bot.services.reminders import reply_of
from storage.models import OutboxMessage

PAUSE_REASONS = {QUOTA_EXCEEDED: "quota", TOKEN_REFUSED: "token"}


def zalo_delivery(adapter: ZaloAdapter) -> Deliver:
    """Rows rendered as the adapter renders replies (options as typed digits, which then work:
    bot.flows.pushed)."""
    client, engine = adapter.client, adapter.engine

    async def deliver(message: OutboxMessage) -> Delivery:
        reply = await pushed.offer(engine.db, CHANNEL, message.chat_id, reply_of(message.payload), engine.clock.now())
        parts = split_text(adapter.render(reply))
        for number, part in enumerate(parts):
            try:
                await client.send_message(message.chat_id, part)
            except ZaloError as exc:
                if number > 0:  # the first part is out: sending the row again would repeat it
                    return Delivery(UNCERTAIN, f"part {number + 1}/{len(parts)}: {exc}")
                if exc.code in PAUSE_REASONS:
                    return Delivery(PAUSE, str(exc), reason=PAUSE_REASONS[exc.code])
                if exc.retryable:
                    return Delivery(TRANSIENT, str(exc))
                return Delivery(PERMANENT, str(exc))
            except ZaloNetworkError as exc:
                if number > 0 or exc.may_have_arrived:
                    return Delivery(UNCERTAIN, str(exc))
                return Delivery(TRANSIENT, str(exc))
        return Delivery(SENT, messages=len(parts))  # Zalo counts each part against the quota

    return deliver
