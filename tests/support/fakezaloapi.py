"""A local fake of the Zalo Bot API (Zalo's Telegram-like bot platform) for end-to-end tests.

:class:`FakeZaloApi` is a small ``aiohttp.web`` server on ``127.0.0.1`` (ephemeral port) speaking the
Zalo Bot API closely enough for a polling bot to run against it.

Typical use::

    async with FakeZaloApi() as server:
        ...  # start the bot with base URL server.base_url; it calls f"{base_url}{token}/{method}"
        lan = server.user("1001", "Lan")
        await lan.send("xin chào")
        reply = await lan.next_reply()
        assert "Xin chào" in reply.text

Unlike Telegram: API errors come with HTTP 200 and ``{"ok": false, "error_code": N, ...}`` (only an
unknown method and :meth:`FakeZaloApi.fail_next` use another status); ids are strings and dates Unix
*milliseconds*; ``getUpdates`` returns ONE event per call and has no offset: an event handed out is
consumed, and an idle poll ends with error 408 "Request timeout".

Every request is listed in :attr:`FakeZaloApi.calls` and every error answer (except the routine 408 of
an idle long poll) in :attr:`FakeZaloApi.errors`, the first place to look when a test times out.

The server is not thread-safe: use it only from the event loop it was started on.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, NamedTuple

from aiohttp import web

from support.fakeserver import Call, FakeServer

__all__ = ["Call", "ErrorReply", "FakeZaloApi", "FakeZaloUser", "SentMessage"]

BOT_ACCOUNT_NAME = "bot.tcns"
DEFAULT_BOT_ID = "1234567890"
MAX_TEXT_LENGTH = 2000
DEFAULT_LONG_POLL_SECONDS = 30.0
MAX_LONG_POLL_SECONDS = 50.0
#: Methods that post a message to a chat (subject to block_user and flood).
SEND_METHODS = frozenset({"sendmessage", "sendphoto"})


class ErrorReply(NamedTuple):
    """One request the server answered with ``ok: false``."""

    method: str
    error_code: int
    description: str


@dataclass
class SentMessage:
    """A message the bot sent with ``sendMessage`` (``text``) or ``sendPhoto`` (``photo``, ``caption``)."""

    chat_id: str
    text: str | None
    message_id: str
    photo: str | None = None
    caption: str | None = None


class _ApiError(Exception):
    """Raised while handling a request; becomes an ``ok: false`` answer."""

    def __init__(self, error_code: int, description: str, *, http_status: int = 200, **parameters: Any) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.http_status = http_status
        self.parameters = parameters


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Parameters from the query string and a JSON or form-encoded body (an empty body is fine)."""
    params: dict[str, Any] = dict(request.query)
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        params.update({key: str(value) for key, value in (await request.post()).items()})
    elif request.can_read_body:
        raw = await request.read()
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError as exc:
                raise _ApiError(400, "Bad Request: cannot parse JSON body") from exc
            if not isinstance(body, dict):
                raise _ApiError(400, "Bad Request: JSON body must be an object")
            params.update(body)
    return params


class FakeZaloUser:
    """A Zalo user talking to the bot; their private chat id equals their user id.

    Keeps a read cursor over the bot's messages to the private chat: :meth:`next_reply` returns the
    oldest message not yet returned, so a test reads the conversation in order.
    """

    def __init__(self, server: FakeZaloApi, user_id: str, display_name: str) -> None:
        self.server = server
        self.id = user_id
        self.display_name = display_name
        self._cursor = 0

    @property
    def chat_id(self) -> str:
        return self.id

    @property
    def messages(self) -> list[SentMessage]:
        """Every message the bot sent to this user's private chat, oldest first (read or not)."""
        return self.server.messages(self.chat_id)

    def _event(self, event_name: str, chat: dict[str, Any], **content: Any) -> dict[str, Any]:
        message = {
            "from": {"id": self.id, "display_name": self.display_name, "is_bot": False},
            "chat": chat,
            **content,
            "message_id": self.server._new_id("msg"),
            "date": self.server._now_ms(),
        }
        return {"event_name": event_name, "message": message}

    def _private_event(self, event_name: str, **content: Any) -> str:
        chat = {"id": self.chat_id, "chat_type": "PRIVATE"}
        return self.server.queue_event(self._event(event_name, chat, **content))

    async def send(self, text: str) -> str:
        """Queue a text message from this user; returns its ``message_id``."""
        return self._private_event("message.text.received", text=text)

    async def send_photo(self, url: str, caption: str | None = None) -> str:
        """Queue a photo (no ``text``; ``caption`` only if given); returns its ``message_id``."""
        content: dict[str, Any] = {"photo_url": url}
        if caption is not None:
            content["caption"] = caption
        return self._private_event("message.image.received", **content)

    async def send_sticker(self, sticker: str = "abc") -> str:
        """Queue a sticker (no ``text``); returns its ``message_id``."""
        return self._private_event("message.sticker.received", sticker=sticker)

    async def send_in_group(self, group_chat_id: str, text: str) -> str:
        """Queue a text this user posts in a group chat (which becomes known to the server)."""
        group_chat_id = str(group_chat_id)
        self.server._known_chats.add(group_chat_id)
        chat = {"id": group_chat_id, "chat_type": "GROUP"}
        return self.server.queue_event(self._event("message.text.received", chat, text=text))

    async def next_reply(self, timeout: float = 5.0) -> SentMessage:
        """The next message to the private chat not yet returned here, waiting for it if needed."""
        position = self._cursor
        unread = await self.server.wait_until(
            lambda: self.messages[position:], timeout, what=f"reply #{position + 1} to chat {self.chat_id}"
        )
        self._cursor = position + 1
        return unread[0]

    async def replies_until_quiet(self, quiet: float = 0.3, timeout: float = 5.0) -> list[SentMessage]:
        """Every new (unread) message until none arrives for ``quiet`` seconds; possibly empty.

        Returns what arrived so far if the chat is still busy after ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last_arrival = loop.time()
        count = len(self.messages)
        while (now := loop.time()) < deadline and now - last_arrival < quiet:
            await self.server._changed.wait(min(last_arrival + quiet, deadline) - now)
            if len(self.messages) > count:
                count, last_arrival = len(self.messages), loop.time()
        unread = self.messages[self._cursor : count]
        self._cursor = count
        return unread

    def __repr__(self) -> str:
        return f"FakeZaloUser(id={self.id!r}, display_name={self.display_name!r})"


class FakeZaloApi(FakeServer):
    """In-process fake Zalo Bot API server; see the module docstring for an overview.

    Attributes a test reads directly: ``base_url`` (``http://127.0.0.1:PORT/bot``), ``port``,
    ``token_seen`` (token of the latest request), ``calls``, ``errors``, ``unknown_methods``,
    ``webhook_url`` and ``webhook_secret``.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, clock: Callable[[], float] = time.time) -> None:
        super().__init__(host, port)
        self.clock = clock
        self.token_seen: str | None = None
        self.calls: list[Call] = []
        self.errors: list[ErrorReply] = []
        self.unknown_methods: list[str] = []
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None

        self._users: dict[str, FakeZaloUser] = {}
        self._known_chats: set[str] = set()
        self._messages: dict[str, list[SentMessage]] = {}
        self._queue: list[dict[str, Any]] = []
        self._last_delivered: dict[str, Any] | None = None
        self._ids = itertools.count(1)
        self._poll_generation = 0

        self._blocked: set[str] = set()
        self._floods: dict[str, int] = {}  # chat id -> pending 429 answers
        self._failures: dict[str, list[int]] = {}  # method -> HTTP status of each pending failure
        self._lost_answers: dict[str, list[float]] = {}  # method -> hold seconds of each pending loss

        self._methods: dict[str, Callable[[dict[str, Any], web.Request], Any]] = {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "sendmessage": self._send_message,
            "sendphoto": self._send_photo,
            "sendchataction": self._send_chat_action,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
        }

    # -- lifecycle ----------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", r"/bot{token:[^/]+}/{method:[^/]+}", self._handle)

    # -- users and events ---------------------------------------------------------------------

    def user(self, user_id: str, display_name: str = "Người dùng") -> FakeZaloUser:
        """The user with this id (created on first use, which makes their private chat known)."""
        user_id = str(user_id)
        if user_id not in self._users:
            self._users[user_id] = FakeZaloUser(self, user_id, display_name)
            self._known_chats.add(user_id)
        return self._users[user_id]

    def queue_event(self, event: dict[str, Any]) -> str:
        """Queue any event dict for ``getUpdates``; returns its message id (if any)."""
        self._queue.append(event)
        self._changed.notify()
        return str(event.get("message", {}).get("message_id", ""))

    def redeliver_last(self) -> str:
        """Queue the last event handed out by ``getUpdates`` again (same message_id); returns that id."""
        if self._last_delivered is None:
            raise RuntimeError("no event has been handed out yet")
        return self.queue_event(self._last_delivered)

    @property
    def pending_events(self) -> list[dict[str, Any]]:
        """Events queued and not yet handed out."""
        return list(self._queue)

    # -- inspecting what the bot did ----------------------------------------------------------

    def messages(self, chat_id: str) -> list[SentMessage]:
        """Messages the bot sent to ``chat_id`` (sendMessage/sendPhoto), oldest first."""
        return list(self._messages.get(str(chat_id), []))

    def calls_to(self, method: str) -> list[Call]:
        """Every call to ``method`` (case-insensitive), in arrival order."""
        return [call for call in self.calls if call.method.lower() == method.lower()]

    async def wait_until_delivered(self, timeout: float = 5.0) -> None:
        """Wait until ``getUpdates`` has handed out every queued event."""
        await self.wait_until(lambda: not self._queue, timeout, what="queued events to be fetched")

    # -- fault injection ----------------------------------------------------------------------

    def block_user(self, user_id: str) -> None:
        """From now on sends to the user's chat fail with 403 "The user has blocked the bot"."""
        self._blocked.add(str(user_id))

    def unblock_user(self, user_id: str) -> None:
        self._blocked.discard(str(user_id))

    def flood(self, chat_id: str, times: int = 1) -> None:
        """The next ``times`` sends to ``chat_id`` fail with 429 and ``parameters.retry_after`` 1."""
        self._floods[str(chat_id)] = self._floods.get(str(chat_id), 0) + times

    def fail_next(self, method: str, times: int = 1, status: int = 502) -> None:
        """The next ``times`` calls of ``method`` fail with HTTP ``status``, NOT carried out."""
        self._failures.setdefault(method.lower(), []).extend([status] * times)

    def lose_answer(self, method: str, times: int = 1, hold: float = 5.0) -> None:
        """The next ``times`` calls of ``method`` are carried out and recorded, but the HTTP answer is
        held ``hold`` seconds, so the client's read timeout fires first. Only successful answers are held
        (a ``getUpdates`` ending in 408 does not use one up)."""
        self._lost_answers.setdefault(method.lower(), []).extend([hold] * times)

    # -- HTTP plumbing ------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        name = method.lower()
        self.token_seen = request.match_info["token"]
        call = Call(method, {})
        self.calls.append(call)  # recorded first, so a test can see a long poll still waiting
        try:
            call.params.update(await _read_params(request))
            handler = self._methods.get(name)
            if handler is None:
                self.unknown_methods.append(method)
                raise _ApiError(404, "Not Found", http_status=404)
            if failures := self._failures.get(name):
                status = failures.pop(0)
                raise _ApiError(status, HTTPStatus(status).phrase, http_status=status)
            result = handler(call.params, request)
            if asyncio.iscoroutine(result):
                result = await result
            if held := self._lost_answers.get(name):
                await self._sleep_unless_stopping(held.pop(0))
            return web.json_response({"ok": True, "result": result})
        except _ApiError as error:
            if not (name == "getupdates" and error.error_code == 408):
                self.errors.append(ErrorReply(method, error.error_code, error.description))
            body: dict[str, Any] = {"ok": False, "error_code": error.error_code, "description": error.description}
            if error.parameters:
                body["parameters"] = error.parameters
            return web.json_response(body, status=error.http_status)
        finally:
            self._changed.notify()

    async def _sleep_unless_stopping(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self._stopping and (remaining := deadline - loop.time()) > 0:
            await self._changed.wait(remaining)

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08d}"

    def _chat_id(self, params: dict[str, Any]) -> str:
        chat_id = str(params.get("chat_id") or "")
        if chat_id not in self._known_chats:
            raise _ApiError(400, "Bad Request: chat not found")
        return chat_id

    @staticmethod
    def _text(value: Any, name: str, *, required: bool) -> str | None:
        if value is None or value == "":
            if required:
                raise _ApiError(400, f"Bad Request: {name} is required")
            return None
        text = str(value)
        if len(text) > MAX_TEXT_LENGTH:
            raise _ApiError(400, f"Bad Request: {name} is too long ({len(text)} > {MAX_TEXT_LENGTH} characters)")
        return text

    def _check_send(self, chat_id: str) -> None:
        if chat_id in self._blocked:
            raise _ApiError(403, "The user has blocked the bot")
        if self._floods.get(chat_id, 0) > 0:
            self._floods[chat_id] -= 1
            raise _ApiError(429, "Too many requests", retry_after=1)

    def _record(self, message: SentMessage) -> dict[str, Any]:
        self._messages.setdefault(message.chat_id, []).append(message)
        return {"message_id": message.message_id, "date": self._now_ms()}

    # -- Zalo Bot API methods -----------------------------------------------------------------

    def _get_me(self, params: dict[str, Any], request: web.Request) -> dict[str, Any]:
        bot_id = (self.token_seen or "").split(":", 1)[0]
        return {
            "id": bot_id if bot_id.isdigit() else DEFAULT_BOT_ID,
            "account_name": BOT_ACCOUNT_NAME,
            "account_type": "BASIC",
            "can_join_groups": True,
        }

    async def _get_updates(self, params: dict[str, Any], request: web.Request) -> dict[str, Any]:
        """Long poll: hand out (and consume) the oldest queued event, waiting up to ``timeout``.

        A newer ``getUpdates`` ends a waiting one with 408 (its client has most likely gone away), and
        an event is never handed to a connection already closed, so no event is lost to a dead poll.
        """
        if self.webhook_url is not None:
            raise _ApiError(409, "Conflict: a webhook is active; call deleteWebhook before getUpdates")
        try:
            raw_timeout = params.get("timeout")
            timeout = DEFAULT_LONG_POLL_SECONDS if raw_timeout in (None, "") else float(raw_timeout)
        except (TypeError, ValueError) as exc:
            raise _ApiError(400, "Bad Request: invalid timeout") from exc
        timeout = min(max(timeout, 0.0), MAX_LONG_POLL_SECONDS)
        self._poll_generation += 1
        generation = self._poll_generation
        self._changed.notify()  # lets an older waiting poll notice it has been superseded
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._stopping and generation == self._poll_generation:
            if self.webhook_url is not None:
                raise _ApiError(409, "Conflict: a webhook is active; call deleteWebhook before getUpdates")
            transport = request.transport
            if transport is None or transport.is_closing():
                break
            if self._queue:
                self._last_delivered = self._queue.pop(0)
                return self._last_delivered
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await self._changed.wait(remaining)
        raise _ApiError(408, "Request timeout")

    def _send_message(self, params: dict[str, Any], request: web.Request) -> dict[str, Any]:
        chat_id = self._chat_id(params)
        self._check_send(chat_id)
        text = self._text(params.get("text"), "text", required=True)
        return self._record(SentMessage(chat_id, text, self._new_id("bot")))

    def _send_photo(self, params: dict[str, Any], request: web.Request) -> dict[str, Any]:
        chat_id = self._chat_id(params)
        self._check_send(chat_id)
        photo = params.get("photo")
        if not isinstance(photo, str) or not photo:
            raise _ApiError(400, "Bad Request: photo (a URL) is required")
        caption = self._text(params.get("caption"), "caption", required=False)
        return self._record(SentMessage(chat_id, None, self._new_id("bot"), photo=photo, caption=caption))

    def _send_chat_action(self, params: dict[str, Any], request: web.Request) -> bool:
        self._chat_id(params)
        if not params.get("action"):
            raise _ApiError(400, "Bad Request: action is required")
        return True

    def _set_webhook(self, params: dict[str, Any], request: web.Request) -> bool:
        if not params.get("url"):
            raise _ApiError(400, "Bad Request: url is required")
        self.webhook_url = str(params["url"])
        self.webhook_secret = params.get("secret_token")
        return True

    def _delete_webhook(self, params: dict[str, Any], request: web.Request) -> bool:
        self.webhook_url = self.webhook_secret = None
        return True

    def _get_webhook_info(self, params: dict[str, Any], request: web.Request) -> dict[str, Any]:
        if self.webhook_url is None:
            raise _ApiError(404, "Webhook not found")
        return {"url": self.webhook_url}
