"""Telegram adapter on python-telegram-bot 22: updates in, the engine decides, replies out.

PTB is used for transport only (polling, HTTP, rate limiting). No conversation
state lives here: the engine keeps it in storage, so a restart continues where it was.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from telegram import BotCommand, BotCommandScopeChat, CallbackQuery, InputFile, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, TypeHandler
from telegram.request import BaseRequest, HTTPXRequest

from bot.content import Content
from bot.domain.messages import Inbound, Markup, Reply, with_buttons
from bot.flows.commands import GUEST
from bot.flows.engine import COMMANDS, MENU, MENUS, Engine
from bot.handlers.plain import split_text, utf16_length
from bot.handlers.telegram_request import AiohttpRequest
from bot.services import metrics
from bot.services.inbox import Delivered, Dispatcher, Inbox, handle_with_retries

log = logging.getLogger(__name__)
# Opt in to PTB 23's behaviour now: durations such as RetryAfter.retry_after are timedeltas.
os.environ.setdefault("PTB_TIMEDELTA", "true")

CHANNEL = "telegram"
SEND_ATTEMPTS = 4
BACKOFF_SECONDS = (0.5, 1.0, 2.0, 4.0)
MAX_RETRY_AFTER = 60.0
# Telegram's command menu (setMyCommands), in this order, each described by texts
# ``commands.<name>``; a role sees the commands the command registry allows it.
MENU_ORDER = ("baocao", "cuatoi", "huy", "tuan", "thang", "quy", "nam", "ky", "bieudo", "xuat", "hanchot", "chot",
              "khoaky", "moky", "gannhat", "suabc", "xoabc", "baothay", "themtv", "thongbao", "moi", "maimoi", "thuhoi",
              "thanhvien", "vaitro", "khoa", "mokhoa", "thon", "chitieu", "nhatky", "tatnhacnho", "batnhacnho",
              "huongdan", "help")
# Every private chat sees the members' menu (and /start) unless its own is set.
DEFAULT_MENU_ROLE = "member"


def menu_commands(content: Content, role: str) -> list[BotCommand]:
    """The command menu of ``role``; the default menu (``DEFAULT_MENU_ROLE``) adds /start for newcomers."""
    names = [name for name in MENU_ORDER if role in COMMANDS[name].roles]
    if role == DEFAULT_MENU_ROLE:
        names.append("start")
    return [BotCommand(name, content.texts(f"commands.{name}")) for name in names]


async def apply_menu(bot, content: Content, chat_id: int, role: str) -> None:  # type: ignore[no-untyped-def]
    """Give one chat its role's command menu; members fall back to the default menu."""
    scope = BotCommandScopeChat(chat_id)
    if role in (DEFAULT_MENU_ROLE, GUEST):
        await bot.delete_my_commands(scope=scope)
    else:
        await bot.set_my_commands(menu_commands(content, role), scope=scope)


def chat_of(payload: str) -> str:
    """The chat a stored update belongs to (its ordering key), from the raw Bot API JSON."""
    return chat_of_update(json.loads(payload))


def chat_of_update(data: Any) -> str:
    """:func:`chat_of` of an update already parsed (``json.loads``)."""
    if not isinstance(data, dict):
        return ""
    for field in ("message", "edited_message", "callback_query"):
        part = data.get(field)
        if isinstance(part, dict):
            chat = (part.get("message") or {}).get("chat") if field == "callback_query" else part.get("chat")
            sender = part.get("from") or {}
            return str((chat or {}).get("id") or sender.get("id") or "")
    return ""


def to_inbound(update: Update, bot_username: str | None = None) -> Inbound | None:
    """The channel-free view of an update; None for updates the bot ignores."""
    chat = update.effective_chat
    user = update.effective_user
    if chat is None or user is None or chat.type != ChatType.PRIVATE:
        return None
    base = {
        "channel": CHANNEL,
        "update_key": str(update.update_id),
        "user_id": str(user.id),
        "chat_id": str(chat.id),
        "display_name": user.full_name,
        "invite_link": f"https://t.me/{bot_username}?start=" if bot_username else None,
    }
    if update.callback_query is not None:
        return Inbound(**base, choice=update.callback_query.data or "")
    if update.message is not None:
        message = update.message
        # A text message never carries media (Telegram sends a caption with those instead).
        media = message.text is None and message.effective_attachment is not None
        # A photo captioned "vneid 3": the caption is read as a report; the photo is never fetched or kept.
        return Inbound(**base, text=message.text if message.text is not None else message.caption, media=media)
    return None


def text_inbound(data: dict[str, Any], bot_username: str | None = None) -> Inbound | None:
    """:func:`to_inbound` of the commonest update, a text typed in a private chat, read from the
    Bot API JSON itself; None for any other update (PTB's objects read those: ``to_inbound``).

    Making PTB's tree of objects of an update costs ~60 us of the event loop (as much as the
    rest of the adapter); a text message needs four fields of it.
    """
    message = data.get("message")
    if len(data) != 2 or not isinstance(message, dict):
        return None
    chat, user, text = message.get("chat"), message.get("from"), message.get("text")
    if not (isinstance(chat, dict) and isinstance(user, dict) and isinstance(text, str)):
        return None
    if chat.get("type") != ChatType.PRIVATE or chat.get("id") is None or user.get("id") is None:
        return None
    first, last = user.get("first_name") or "", user.get("last_name")
    return Inbound(
        channel=CHANNEL, update_key=str(data["update_id"]), user_id=str(user["id"]), chat_id=str(chat["id"]),
        display_name=f"{first} {last}" if last else first,
        invite_link=f"https://t.me/{bot_username}?start=" if bot_username else None,
        text=text,
    )


def reply_markup(reply: Reply, menu: str | None = None) -> str | None:
    """The reply's keyboard as Bot API JSON: its buttons, else ``menu`` when it asks for the menu.

    Plain JSON rather than PTB's ``InlineKeyboardMarkup``: the same request, without building
    and serializing a tree of Telegram objects for every reply.
    """
    if reply.options:
        rows = [[{"text": o.label, "callback_data": o.data} for o in row] for row in reply.options]
        return json.dumps({"inline_keyboard": rows}, ensure_ascii=False, separators=(",", ":"))
    return menu if reply.menu else None


def menu_markup(content: Content, role: str = DEFAULT_MENU_ROLE) -> str:
    """The persistent main-menu keyboard of ``role`` (menu buttons send their label as text)."""
    rows = MENUS.get(role, MENUS[DEFAULT_MENU_ROLE])
    keyboard = {"keyboard": [[{"text": content.texts(key)} for key in MENU if key in row] for row in rows],
                "resize_keyboard": True, "is_persistent": True}
    return json.dumps(keyboard, ensure_ascii=False, separators=(",", ":"))


# Bot API methods are case-insensitive. ``do_api_request`` with the lower-case name is the
# same request as ``Bot.send_message`` (defaults, rate limiter, errors) except that PTB does
# not parse Telegram's answer into a ``Message``, which tcns never reads: that parse was a
# third of the event loop's time per text report. (PTB warns only for its camel-case names.)
SEND_MESSAGE = "sendmessage"


async def send_text(bot, chat_id: int, text: str, markup: str | None) -> None:  # type: ignore[no-untyped-def]
    """``sendMessage`` in HTML parse mode; raises PTB's errors like ``Bot.send_message``."""
    params: dict[str, Any] = {"chat_id": chat_id, "text": text, "parse_mode": ParseMode.HTML.value}
    if markup is not None:
        params["reply_markup"] = markup
    await bot.do_api_request(SEND_MESSAGE, api_kwargs=params)


# Telegram's limits, in UTF-16 code units after entity parsing (the raw HTML is never
# shorter, so measuring it is safe): one message's text, and a photo's or document's caption.
MAX_TEXT = 4096
MAX_CAPTION = 1024


def _fits(text: str, limit: int) -> bool:
    return len(text) * 2 <= limit or utf16_length(text) <= limit  # the first test spares the encode


def text_parts(text: str) -> list[str]:
    """A message text as the parts Telegram accepts: cut at line ends, each balanced HTML."""
    if _fits(text, MAX_TEXT):
        return [text]
    return split_text(text, MAX_TEXT, markup=True, length=utf16_length)


def reply_messages(reply: Reply) -> list[Reply]:
    """The messages one reply goes out as. A text over :data:`MAX_TEXT` is split at line ends
    (:func:`bot.handlers.plain.split_text`); the buttons, the menu and the command menu come
    with the last part. A file whose caption is too long goes after that caption, sent as text.
    Channel words ("{tap}") are the ones for buttons."""
    reply = with_buttons(reply)
    if reply.attachment is not None:
        if _fits(reply.text, MAX_CAPTION):
            return [reply]
        file = replace(reply, text=Markup(""))
        return [Reply(Markup(part)) for part in text_parts(reply.text)] + [file]
    parts = text_parts(reply.text)
    if len(parts) == 1:
        return [reply]
    return [Reply(Markup(part)) for part in parts[:-1]] + [replace(reply, text=Markup(parts[-1]))]


@dataclass(frozen=True)
class _Replies:
    """What the dispatcher sends for an update a webhook group handled (its chat's replies, in
    its chat's turn): ``Delivered.parsed`` of a job that is not an update."""

    chat_id: int
    replies: list[Reply]


class InlineBudget:
    """How many replies may go back in webhooks' answers: ``rate`` a second, bursts of as many.
    Telegram gives no answer to those, so no flood-limit wait either: past the budget, replies
    go through the rate limiter as requests of their own."""

    def __init__(self, rate: float) -> None:
        self.rate, self._tokens, self._at = rate, rate, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self.rate, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


def inline_body(chat_id: int, reply: Reply, menu: str) -> bytes | None:
    """A webhook answer that makes Telegram send ``reply`` (``sendMessage`` as the body), or
    None when it is not one plain message (a file, a long text, a command menu to set)."""
    if reply.attachment is not None or reply.commands_for is not None:
        return None
    messages = reply_messages(reply)
    if len(messages) != 1:
        return None
    message = messages[0]
    markup = reply_markup(message, menu)
    text = json.dumps(str(message.text), ensure_ascii=False)
    tail = f',"reply_markup":{markup}' if markup is not None else ""
    return f'{{"method":"sendMessage","chat_id":{chat_id},"parse_mode":"HTML","text":{text}{tail}}}'.encode()


def _seconds(value: int | float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramAdapter:
    def __init__(self, engine: Engine, content: Content) -> None:
        self.engine = engine
        self.content = content
        self.menus = {role: menu_markup(content, role) for role in MENUS}
        self.inbox = Inbox(engine.db, engine.clock, CHANNEL, Dispatcher(self._process), chat_of)
        self.application: Application | None = None  # type: ignore[type-arg]
        self.inline: InlineBudget | None = None  # webhooks: replies in their answers (None: no budget kept)
        self.inline_off = False  # webhooks: never a reply in an answer

    async def handle_group(self, group: Sequence[Delivered]) -> list[bytes | None]:
        """A webhook's group: private texts (:func:`text_inbound`) of different chats, none of
        them with an update waiting in the dispatcher, handled in one transaction
        (:meth:`Engine.handle_many`); raises if that failed (then nothing of them is stored).
        Returns each one's webhook answer: its reply as the body when it is one plain message
        (:func:`inline_body`) and the budget allows, else None, and the replies go out in
        their chat's turn in the dispatcher (after the commit, as for any update)."""
        assert self.application is not None
        bot = self.application.bot
        inbounds = [text_inbound(d.parsed, bot.username) for d in group]
        assert all(inbounds), "a webhook group takes private texts only"
        started = time.perf_counter()
        handled = await self.engine.handle_many(inbounds)  # type: ignore[arg-type]
        took = time.perf_counter() - started
        bodies: list[bytes | None] = []
        for delivered, replies in zip(group, handled, strict=True):
            metrics.UPDATES.labels(CHANNEL, "new" if replies is not None else "redelivered").inc()
            metrics.HANDLED.labels(CHANNEL).observe(took)
            chat_id = int(delivered.chat)
            body = None
            replies = replies or []
            if len(replies) == 1 and not self.inline_off and (self.inline is None or self.inline.take()):
                reply = replies[0]
                menu = self.menus.get(reply.menu_role or DEFAULT_MENU_ROLE, self.menus[DEFAULT_MENU_ROLE])
                body = inline_body(chat_id, reply, menu)
            if body is not None:
                metrics.REPLIES.labels(CHANNEL).inc()
            elif replies:
                self.inbox.dispatcher.submit(Delivered(delivered.key, delivered.chat, "", _Replies(chat_id, replies)))
            bodies.append(body)
        return bodies

    async def _process(self, delivered: Delivered) -> None:
        """The dispatcher's handler. A text typed in a private chat goes to the engine straight
        from its JSON (:func:`text_inbound`); any other update through PTB's objects and
        handlers (``on_update``). ``delivered.parsed``: the update's JSON as a dict (polling, a webhook)."""
        assert self.application is not None
        bot = self.application.bot
        parsed = delivered.parsed
        if isinstance(parsed, _Replies):  # a webhook group's update, handled: its replies, in turn
            for reply in parsed.replies:
                await self.send(bot, parsed.chat_id, reply)
            return
        if isinstance(parsed, Update):
            await self.application.process_update(parsed)
            return
        data = parsed if isinstance(parsed, dict) else json.loads(delivered.payload)  # polling's, a webhook's
        inbound = text_inbound(data, bot.username) if isinstance(data, dict) else None
        if inbound is None:
            await self.application.process_update(Update.de_json(data, bot))
            return
        try:
            await self._serve(bot, inbound)
        except Exception as exc:  # as PTB's process_update hands a handler's error to on_error
            log.error("error while handling an update", exc_info=exc)
            await self._quietly(self.send(bot, int(inbound.chat_id), Reply(self.content.texts("errors.internal"))))

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        inbound = to_inbound(update, context.bot.username)
        if inbound is None:
            await self.inbox.settle(str(update.update_id))  # nothing to do, but it must not wait in the inbox
            return
        await self._serve(context.bot, inbound, update.callback_query)

    async def _serve(self, bot, inbound: Inbound, query: CallbackQuery | None = None) -> None:  # type: ignore[no-untyped-def]
        """One update the engine handles: its replies sent after its transaction (retried, see
        :func:`handle_with_retries`); a tapped button is answered and its keyboard taken away."""
        key = inbound.update_key
        if query is not None:
            await self._quietly(query.answer())
        replies: list[Reply] = []

        async def attempt() -> None:
            nonlocal replies
            replies = await self.engine.handle(inbound)

        async def give_up() -> None:
            await self.send(bot, int(inbound.chat_id), Reply(self.content.texts("errors.internal")))

        await handle_with_retries(self.inbox, key, attempt, give_up)
        if query is not None and replies and query.message is not None:
            # The tapped buttons have done their job: take them away so they cannot be tapped again.
            await self._quietly(query.edit_message_reply_markup(reply_markup=None))
        for reply in replies:
            await self.send(bot, int(inbound.chat_id), reply)

    async def send(self, bot, chat_id: int, reply: Reply) -> bool:  # type: ignore[no-untyped-def]
        """Send one reply, in several messages when it is longer than Telegram takes (the buttons,
        menu and file come with the last, see :func:`reply_messages`). Each message retries flood
        limits and network errors; a blocked chat, a refused message or one that never went out
        stops the reply there (what follows would make no sense without it)."""
        for message in reply_messages(reply):
            for attempt in range(SEND_ATTEMPTS):
                try:
                    await self._send_once(bot, chat_id, message)
                    break
                except RetryAfter as exc:
                    wait = min(_seconds(exc.retry_after), MAX_RETRY_AFTER)
                    log.warning("flood limit for chat %s: waiting %.1fs", chat_id, wait)
                    await asyncio.sleep(wait)
                except Forbidden:
                    log.info("chat %s blocked the bot; marking it unreachable", chat_id)
                    await self.engine.mark_unreachable(CHANNEL, str(chat_id))
                    return False
                except BadRequest:
                    log.exception("Telegram refused a reply to chat %s", chat_id)
                    return False
                except NetworkError as exc:
                    log.warning("network error sending to %s (attempt %d): %s", chat_id, attempt + 1, exc)
                    await asyncio.sleep(BACKOFF_SECONDS[attempt])
            else:
                log.error("giving up on a reply to chat %s after %d attempts", chat_id, SEND_ATTEMPTS)
                return False
        metrics.REPLIES.labels(CHANNEL).inc()
        if reply.commands_for is not None:  # after the reply, and cosmetic: never fails it
            await self._quietly(apply_menu(bot, self.content, chat_id, reply.commands_for))
        return True

    async def _send_once(self, bot, chat_id: int, reply: Reply) -> None:  # type: ignore[no-untyped-def]
        """One message: a text, or a file with its caption (already within Telegram's limits)."""
        menu = self.menus.get(reply.menu_role or DEFAULT_MENU_ROLE, self.menus[DEFAULT_MENU_ROLE])
        markup = reply_markup(reply, menu)
        file = reply.attachment
        if file is None:
            await send_text(bot, chat_id, reply.text, markup)
        elif file.kind == "photo":
            await bot.send_photo(chat_id, InputFile(file.data, filename=file.filename), caption=reply.text or None,
                                 parse_mode=ParseMode.HTML, reply_markup=markup)
        else:
            await bot.send_document(chat_id, InputFile(file.data, filename=file.filename),
                                    caption=reply.text or None, parse_mode=ParseMode.HTML, reply_markup=markup)

    async def _quietly(self, call) -> None:  # type: ignore[no-untyped-def]
        try:
            await call
        except TelegramError as exc:  # a lost answer or edit is cosmetic; never fail the update for it
            log.info("ignored Telegram error on a cosmetic call: %s", exc)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("error while handling an update", exc_info=context.error)
        if isinstance(update, Update) and update.effective_chat is not None:
            reply = Reply(self.content.texts("errors.internal"))
            await self._quietly(self.send(context.bot, update.effective_chat.id, reply))

    async def post_init(self, application: Application) -> None:
        await self._quietly(application.bot.set_my_commands(menu_commands(self.content, DEFAULT_MENU_ROLE)))


_JSON = json.JSONDecoder()
_ANSWER_HEAD = re.compile(r'\s*\{\s*"ok"\s*:\s*true\s*,\s*"result"\s*:\s*\[\s*')
_SPACE = re.compile(r"[ \t\n\r]*")


def _updates_answer(text: str) -> tuple[dict[str, Any], dict[int, str]] | None:
    """A ``getUpdates`` answer as Telegram writes it (``{"ok":true,"result":[...]}``) parsed
    into what ``json.loads`` gives, with each update's JSON text as it came, by update id;
    None for any other shape (an error, another key order, anything unexpected): then the
    caller parses it the ordinary way."""
    head = _ANSWER_HEAD.match(text)
    if head is None:
        return None
    pos, updates, raw = head.end(), [], {}
    if not text.startswith("]", pos):
        while True:
            try:
                update, end = _JSON.raw_decode(text, pos)
            except ValueError:
                return None
            if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
                return None
            updates.append(update)
            raw[update["update_id"]] = text[pos:end]
            pos = _SPACE.match(text, end).end()  # type: ignore[union-attr]
            if text.startswith(",", pos):
                pos = _SPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
                continue
            if not text.startswith("]", pos):
                return None
            break
    if text[pos + 1:].strip() != "}":
        return None
    return {"ok": True, "result": updates}, raw


class KeepsRawUpdates:
    """A request mixin: the updates of the last ``getUpdates`` answer as Telegram sent them
    (one JSON text each, taken before PTB turns them into objects), so they are stored
    without serialising PTB's objects back. ``parse_json_payload`` is PTB's documented
    override point; answers of other methods are left alone."""

    raw_updates: dict[int, str]

    def parse_json_payload(self, payload: bytes) -> dict[str, Any]:
        read = _updates_answer(payload.decode("utf-8", "replace"))
        if read is not None:  # each update's own text, cut out of the answer while it is parsed
            data, self.raw_updates = read
            return data
        data = BaseRequest.parse_json_payload(payload)
        result = data.get("result") if isinstance(data, dict) else None
        if isinstance(result, list) and all(isinstance(u, dict) and "update_id" in u for u in result):
            self.raw_updates = {u["update_id"]: json.dumps(u, separators=(",", ":")) for u in result}
        return data

    def take_raw_updates(self) -> dict[int, str]:
        taken, self.raw_updates = getattr(self, "raw_updates", {}), {}
        return taken


class UpdatesRequest(KeepsRawUpdates, HTTPXRequest):
    """PTB's own ``getUpdates`` connection (one, as the ApplicationBuilder makes it), keeping raw updates."""

    def __init__(self) -> None:
        super().__init__(connection_pool_size=1)


def build_application(
    token: str,
    engine: Engine,
    content: Content,
    base_url: str = "https://api.telegram.org/bot",
    base_file_url: str = "https://api.telegram.org/file/bot",
    rate_limit: bool = True,
    request: BaseRequest | None = None,
) -> Application:
    """The PTB application: transport, rate limiter and the one handler. It has no PTB
    ``Updater``: updates come in through :class:`bot.handlers.telegram_polling.TelegramPolling`
    (or a webhook), stored before they are acknowledged, and are handed to
    ``Application.process_update`` by the inbox's dispatcher (in order per chat). The bot's
    requests go over aiohttp (:class:`~bot.handlers.telegram_request.AiohttpRequest`), unless
    ``request`` is given (it then serves ``getUpdates`` too)."""
    adapter = TelegramAdapter(engine, content)
    builder: ApplicationBuilder = (
        Application.builder().token(token).base_url(base_url).base_file_url(base_file_url)
        .post_init(adapter.post_init).updater(None)
    )
    if rate_limit:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=0))
    updates_request = request if request is not None else UpdatesRequest()
    builder = builder.get_updates_request(updates_request).request(request or AiohttpRequest())
    application = builder.build()
    application.bot_data["updates_request"] = updates_request
    application.add_handler(TypeHandler(Update, adapter.on_update))
    application.add_error_handler(adapter.on_error)
    application.bot_data["adapter"] = adapter
    adapter.application = application
    return application
