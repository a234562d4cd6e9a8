"""Telegram delivery for the outbox: one row -> one ``sendMessage``, errors classified.

The sender (``bot/outbox.py``) decides what to do with each outcome; this module only
knows how Telegram says it: 403 Forbidden = the user blocked the bot, 429 RetryAfter =
flood control, 400 BadRequest = a request Telegram will never accept, a server error
or a connection that never opened = try again later, and a transport error after the
request may have left (read timeout, connection dropped) = uncertain: Telegram has no
idempotency key, so trying again could send the message twice.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.content import Content
from bot.domain.messages import Reply
from bot.handlers.telegram import MAX_RETRY_AFTER, _seconds, apply_menu, reply_markup, reply_messages, send_text
from bot.handlers.telegram_request import never_sent, transport_failed
from bot.services.outbox import BLOCKED, PERMANENT, RETRY_AFTER, SENT, TRANSIENT, UNCERTAIN, Deliver, Delivery
from bot.services.reminders import reply_of
from storage.models import OutboxMessage

log = logging.getLogger(__name__)
CHANNEL = "telegram"


def may_have_arrived(exc: TelegramError) -> bool:
    """A transport error (PTB's request wraps aiohttp's or httpx's) after the request may have
    reached Telegram.

    Telegram's own answers (a 5xx) carry no transport cause: the request was refused, try again.
    """
    cause = exc.__cause__
    return transport_failed(cause) and not never_sent(cause)


PART_ATTEMPTS = 3  # a part after the first: tries before the row is settled as partly sent
PART_BACKOFF_SECONDS = (1.0, 2.0)


async def _send_part(bot: Bot, chat_id: int, part: Reply) -> Delivery:
    try:
        await send_text(bot, chat_id, part.text, reply_markup(part))  # no menu when pushed
    except RetryAfter as exc:
        return Delivery(RETRY_AFTER, str(exc), _seconds(exc.retry_after))
    except Forbidden as exc:
        return Delivery(BLOCKED, str(exc))
    except BadRequest as exc:
        if "chat not found" in str(exc).lower():
            return Delivery(BLOCKED, str(exc))
        return Delivery(PERMANENT, str(exc))
    except (NetworkError, TelegramError) as exc:
        outcome = UNCERTAIN if may_have_arrived(exc) else TRANSIENT
        return Delivery(outcome, f"{type(exc).__name__}: {exc}")
    return Delivery(SENT)


async def _send_rest(bot: Bot, chat_id: int, part: Reply, number: int, parts: int) -> Delivery:
    """A part after the first: the row cannot be sent again (the first part is out), so flood
    limits and requests that surely did not leave are retried here; anything else settles it."""
    for attempt in range(PART_ATTEMPTS):
        outcome = await _send_part(bot, chat_id, part)
        if outcome.outcome not in (RETRY_AFTER, TRANSIENT):
            break
        if attempt + 1 < PART_ATTEMPTS:
            await asyncio.sleep(min(outcome.retry_after, MAX_RETRY_AFTER) if outcome.outcome == RETRY_AFTER
                                else PART_BACKOFF_SECONDS[attempt])
    if outcome.outcome == SENT:
        return outcome
    settled = outcome.outcome if outcome.outcome in (BLOCKED, UNCERTAIN) else PERMANENT
    return Delivery(settled, f"part {number} of {parts} not sent ({outcome.outcome}): {outcome.error}")


def telegram_delivery(bot: Bot, content: Content | None = None) -> Deliver:
    """``content`` gives the command menus a message may carry (``Reply.commands_for``).

    A message longer than Telegram takes goes out in parts (:func:`reply_messages`). The first
    part's outcome is the row's, as for any message; once it is out, the row is never sent
    again, so a later part is retried here and, failing that, the row is settled as partly
    sent (``failed``, or ``blocked``/``uncertain``), never resent."""

    async def deliver(message: OutboxMessage) -> Delivery:
        reply = reply_of(message.payload)
        chat_id = int(message.chat_id)
        parts = reply_messages(reply)
        outcome = await _send_part(bot, chat_id, parts[0])
        for number, part in enumerate(parts[1:], start=2):
            if outcome.outcome != SENT:
                break
            outcome = await _send_rest(bot, chat_id, part, number, len(parts))
        if outcome.outcome != SENT:
            return outcome
        if reply.commands_for is not None and content is not None:
            try:
                await apply_menu(bot, content, chat_id, reply.commands_for)
            except TelegramError as exc:  # cosmetic: the message is out; /trogiup sets the menu again
                log.info("could not set the command menu of chat %s: %s", message.chat_id, exc)
        return Delivery(SENT)

    return deliver
