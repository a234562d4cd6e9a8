"""Telegram delivery for the outbox: one row -> one ``sendMessage``, errors classified.

The sender (``bot/outbox.py``) decides what to do with each outcome; this module only
knows how Telegram says it: 403 Forbidden = the user blocked the bot, 429 RetryAfter =
flood control, 400 BadRequest = a request Telegram will never accept, anything else
network-like = try again later.
"""

from __future__ import annotations

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.handlers.telegram import _markup, _seconds
from bot.outbox import BLOCKED, PERMANENT, RETRY_AFTER, SENT, TRANSIENT, Deliver, Delivery
from bot.reminders import reply_of
from storage.outbox import OutboxMessage

CHANNEL = "telegram"


def telegram_delivery(bot: Bot) -> Deliver:
    async def deliver(message: OutboxMessage) -> Delivery:
        reply = reply_of(message.payload)
        try:
            await bot.send_message(
                int(message.chat_id), reply.text, parse_mode=ParseMode.HTML,
                reply_markup=_markup(reply, None),  # type: ignore[arg-type] - no menu for pushed messages
            )
        except RetryAfter as exc:
            return Delivery(RETRY_AFTER, str(exc), _seconds(exc.retry_after))
        except Forbidden as exc:
            return Delivery(BLOCKED, str(exc))
        except BadRequest as exc:
            if "chat not found" in str(exc).lower():
                return Delivery(BLOCKED, str(exc))
            return Delivery(PERMANENT, str(exc))
        except (NetworkError, TelegramError) as exc:
            return Delivery(TRANSIENT, f"{type(exc).__name__}: {exc}")
        return Delivery(SENT)

    return deliver
