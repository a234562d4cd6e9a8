"""Telegram delivery for the outbox: one row -> one ``sendMessage``, errors classified.

The sender (``bot/outbox.py``) decides what to do with each outcome; this module only
knows how Telegram says it: 403 Forbidden = the user blocked the bot, 429 RetryAfter =
flood control, 400 BadRequest = a request Telegram will never accept, a server error
or a connection that never opened = try again later, and a transport error after the
request may have left (read timeout, connection dropped) = uncertain: Telegram has no
idempotency key, so trying again could send the message twice.
"""

from __future__ import annotations

import logging

import httpx
from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.content import Content
from bot.handlers.telegram import _seconds, apply_menu, reply_markup, send_text
from bot.outbox import BLOCKED, PERMANENT, RETRY_AFTER, SENT, TRANSIENT, UNCERTAIN, Deliver, Delivery
from bot.reminders import reply_of
from storage.outbox import OutboxMessage

log = logging.getLogger(__name__)
CHANNEL = "telegram"
# Transport errors raised before a byte of the request was sent.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def may_have_arrived(exc: TelegramError) -> bool:
    """A transport error (PTB wraps httpx's) after the request may have reached Telegram.

    Telegram's own answers (a 5xx) carry no httpx cause: the request was refused, try again.
    """
    cause = exc.__cause__
    return isinstance(cause, httpx.TransportError) and not isinstance(cause, NOT_SENT)


def telegram_delivery(bot: Bot, content: Content | None = None) -> Deliver:
    """``content`` gives the command menus a message may carry (``Reply.commands_for``)."""

    async def deliver(message: OutboxMessage) -> Delivery:
        reply = reply_of(message.payload)
        try:
            await send_text(bot, int(message.chat_id), reply.text, reply_markup(reply))  # no menu when pushed
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
        if reply.commands_for is not None and content is not None:
            try:
                await apply_menu(bot, content, int(message.chat_id), reply.commands_for)
            except TelegramError as exc:  # cosmetic: the message is out; /trogiup sets the menu again
                log.info("could not set the command menu of chat %s: %s", message.chat_id, exc)
        return Delivery(SENT)

    return deliver
