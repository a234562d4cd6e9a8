"""A local fake of the Zalo Bot API (bot-api.zaloplatforms.com) for end-to-end tests.

:class:`FakeZaloApi` is a small ``aiohttp.web`` server on ``127.0.0.1`` (ephemeral port) written from the
Zalo Bot Platform documentation (the method pages and "Bảng mã lỗi"), for a polling or webhook bot:

* ``{base}/bot<TOKEN>/<method>``, GET or POST, query string, form, multipart or JSON; method names are
  **case-sensitive** (``getMe``, ``getUpdates``, ``setWebhook``, ``deleteWebhook``, ``getWebhookInfo``,
  ``sendMessage``, ``sendPhoto``, ``sendSticker``, ``sendChatAction``): a known name in the wrong case is
  refused with 400, an unknown one with 404;
* ``getUpdates`` (``timeout`` in seconds, a string, default 30) hands out ONE event, the shape a webhook
  delivers, and is refused while a webhook is set; an idle poll ends with 408;
* the documented error codes on demand: 401 (a token refused: :meth:`FakeZaloApi.revoke_token`), 403
  "Internal server error" (:meth:`FakeZaloApi.internal_error`: a server error, NOT a blocked user),
  429 "Quota exceeded" (:meth:`FakeZaloApi.exhaust_quota`: every send refused until
  :meth:`FakeZaloApi.reset_quota`, as when the bot's monthly quota is spent);
* webhooks: with a URL set (``setWebhook {url, secret_token}``, 8-256 characters), each queued event is
  POSTed there with ``X-Bot-Api-Secret-Token``, as ``{"ok": true, "result": event}`` (the documented
  shape) or, with ``webhook_shape = "bare"``, the event alone (what clients in the wild also receive);
* events ``message.text.received``, ``message.image.received`` (``photo`` URL, optional ``caption``),
  ``message.sticker.received`` and ``message.unsupported.received`` (sent instead of the content when the
  sender is in a protected group).

Typical use::

    async with FakeZaloApi() as server:
        ...  # start the bot with base URL server.base_url; it calls f"{base_url}{token}/{method}"
        lan = server.user("1001", "Lan")
        await lan.send("xin chào")
        reply = await lan.next_reply()
        assert "Xin chào" in reply.text

Unlike Telegram: API errors come with HTTP 200 and ``{"ok": false, "error_code": N, ...}`` (only an
unknown method and :meth:`FakeZaloApi.fail_next` use another status); ids are strings (hex) and dates
Unix *milliseconds*; ``getUpdates`` has no offset: an event handed out is consumed.

Every request is listed in :attr:`FakeZaloApi.calls` and every error answer (except the routine 408 of
an idle long poll) in :attr:`FakeZaloApi.errors`, the first place to look when a test times out.

The server is not thread-safe: use it only from the event loop it was started on.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, NamedTuple

import httpx
from aiohttp import web

from support.fakeserver import Call, FakeServer

__all__ = ["Call", "ErrorReply", "FakeZaloApi", "FakeZaloUser", "SentMessage"]

BOT_ACCOUNT_NAME = "bot.tcns"
DEFAULT_BOT_ID = "1234567890"
MAX_TEXT_LENGTH = 2000
DEFAULT_LONG_POLL_SECONDS = 30.0
MAX_LONG_POLL_SECONDS = 50.0
MIN_SECRET, MAX_SECRET = 8, 256
SECRET_HEADER = "X-Bot-Api-Secret-Token"
INTERNAL_ERROR = (403, "Internal server error")
QUOTA_EXCEEDED = (429, "Quota exceeded")
UNAUTHORIZED = (401, "Unauthorized")
TEXT_EVENT, IMAGE_EVENT = "message.text.received", "message.image.received"
STICKER_EVENT, UNSUPPORTED_EVENT = "message.sticker.received", "message.unsupported.received"


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
    photo_bytes: bytes | None = None  # what the photo URL served, when the server fetches photos


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
            "message_id": self.server._new_id(),
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
        """Queue a photo (``photo`` URL, no ``text``; ``caption`` only if given); returns its ``message_id``."""
        content: dict[str, Any] = {"photo": url}
        if caption is not None:
            content["caption"] = caption
        return self._private_event(IMAGE_EVENT, **content)

    async def send_sticker(self, sticker: str = "abc") -> str:
        """Queue a sticker (no ``text``); returns its ``message_id``."""
        return self._private_event(STICKER_EVENT, sticker=sticker)

    async def send_protected(self) -> str:
        """Queue what Zalo sends instead of the content when the sender is in a protected group
        (children, people with disabilities, people who cannot read): no text, no content."""
        return self._private_event(UNSUPPORTED_EVENT)

    async def send_in_group(self, group_chat_id: str, text: str) -> str:
        """Queue a text this user posts in a group chat (which becomes known to the server)."""
        group_chat_id = str(group_chat_id)
        self.server._known_chats.add(group_chat_id)
        chat = {"id": group_chat_id, "chat_type": "GROUP"}
        return self.server.queue_event(self._event(TEXT_EVENT, chat, text=text))

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

        #: ``"wrapped"``: webhook bodies as documented (``{"ok": true, "result": event}``); ``"bare"``: the event.
        self.webhook_shape = "wrapped"
        #: (HTTP status, body sent) of every webhook delivery, in order.
        self.webhook_deliveries: list[tuple[int, dict[str, Any]]] = []
        self.quota_exceeded = False
        self.token_revoked = False
        #: ``sendPhoto`` reads the photo from its URL (a 400 if it cannot), as Zalo does.
        self.fetch_photos = False

        self._internal_errors: dict[str, int] = {}  # method -> pending 403 "Internal server error" answers
        self._failures: dict[str, list[int]] = {}  # method -> HTTP status of each pending failure
        self._lost_answers: dict[str, list[float]] = {}  # method -> hold seconds of each pending loss
        self._pushes: set[asyncio.Future[None]] = set()
        self._last_push: asyncio.Future[None] | None = None

        self._methods: dict[str, Callable[[dict[str, Any], web.Request], Any]] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendSticker": self._send_sticker,
            "sendChatAction": self._send_chat_action,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
        }
        self._by_folded = {name.lower(): name for name in self._methods}

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
        """Queue any event dict: for ``getUpdates``, or POSTed to the webhook if one is set.
        Returns its message id (if any)."""
        if self.webhook_url is not None:  # pushed in order, one after the other
            self._last_delivered = event
            previous = self._last_push
            self._last_push = task = asyncio.ensure_future(self._push_after(previous, event, self.webhook_shape))
            self._pushes.add(task)
            task.add_done_callback(self._pushes.discard)
        else:
            self._queue.append(event)
        self._changed.notify()
        return str(event.get("message", {}).get("message_id", ""))

    def redeliver_last(self) -> str:
        """Deliver the last event handed out (by ``getUpdates`` or the webhook) again, same message_id."""
        if self._last_delivered is None:
            raise RuntimeError("no event has been handed out yet")
        return self.queue_event(self._last_delivered)

    async def _push_after(self, previous: asyncio.Future[Any] | None, event: dict[str, Any], shape: str) -> None:
        if previous is not None:
            with contextlib.suppress(BaseException):
                await previous
        await self.push(event, shape=shape)

    async def wait_until_pushed(self, timeout: float = 5.0) -> None:
        """Wait until every event queued while a webhook is set has been POSTed and answered."""
        await self.wait_until(lambda: not self._pushes, timeout, what="webhook deliveries")

    async def stop(self) -> None:
        for task in list(self._pushes):
            task.cancel()
        await super().stop()

    async def push(self, event: dict[str, Any], *, secret: str | None = None, shape: str | None = None) -> int:
        """POST one event to the webhook now, as Zalo does; returns the HTTP status the bot answered.

        ``secret`` replaces the registered secret token in the header (a forged delivery);
        ``shape`` (``"wrapped"`` or ``"bare"``) replaces :attr:`webhook_shape` for this delivery."""
        if self.webhook_url is None:
            raise RuntimeError("no webhook is set")
        body = {"ok": True, "result": event} if (shape or self.webhook_shape) == "wrapped" else event
        headers = {SECRET_HEADER: secret if secret is not None else (self.webhook_secret or "")}
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                status = (await client.post(self.webhook_url, json=body, headers=headers)).status_code
        except httpx.TransportError:
            status = 0
        self.webhook_deliveries.append((status, body))
        self._changed.notify()
        return status

    @property
    def pending_events(self) -> list[dict[str, Any]]:
        """Events queued and not yet handed out."""
        return list(self._queue)

    # -- inspecting what the bot did ----------------------------------------------------------

    def messages(self, chat_id: str) -> list[SentMessage]:
        """Messages the bot sent to ``chat_id`` (sendMessage/sendPhoto), oldest first."""
        return list(self._messages.get(str(chat_id), []))

    def calls_to(self, method: str) -> list[Call]:
        """Every call to ``method`` (exactly this name: method names are case-sensitive), in arrival order."""
        return [call for call in self.calls if call.method == method]

    async def wait_until_delivered(self, timeout: float = 5.0) -> None:
        """Wait until ``getUpdates`` has handed out every queued event."""
        await self.wait_until(lambda: not self._queue, timeout, what="queued events to be fetched")

    # -- fault injection ----------------------------------------------------------------------

    def internal_error(self, method: str = "sendMessage", times: int = 1) -> None:
        """The next ``times`` calls of ``method`` get 403 "Internal server error" (not carried out): by
        the documentation a server error, to be tried again; it says nothing about the user."""
        self._internal_errors[method] = self._internal_errors.get(method, 0) + times

    def exhaust_quota(self) -> None:
        """The bot's quota is spent: every send gets 429 "Quota exceeded" until :meth:`reset_quota`."""
        self.quota_exceeded = True

    def reset_quota(self) -> None:
        """A new month (or a bigger plan): sends go through again."""
        self.quota_exceeded = False

    def revoke_token(self) -> None:
        """Every call from now on gets 401 (the token was revoked or expired)."""
        self.token_revoked = True

    def fail_next(self, method: str, times: int = 1, status: int = 502) -> None:
        """The next ``times`` calls of ``method`` fail with HTTP ``status``, NOT carried out."""
        self._failures.setdefault(method, []).extend([status] * times)

    def lose_answer(self, method: str, times: int = 1, hold: float = 5.0) -> None:
        """The next ``times`` calls of ``method`` are carried out and recorded, but the HTTP answer is
        held ``hold`` seconds, so the client's read timeout fires first. Only successful answers are held
        (a ``getUpdates`` ending in 408 does not use one up)."""
        self._lost_answers.setdefault(method, []).extend([hold] * times)

    # -- HTTP plumbing ------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = name = request.match_info["method"]
        self.token_seen = request.match_info["token"]
        call = Call(method, {})
        self.calls.append(call)  # recorded first, so a test can see a long poll still waiting
        try:
            call.params.update(await _read_params(request))
            handler = self._methods.get(name)
            if handler is None:
                self.unknown_methods.append(method)
                if method.lower() in self._by_folded:
                    raise _ApiError(400, f"Bad Request: unknown method {method} (did you mean "
                                         f"{self._by_folded[method.lower()]}? method names are case-sensitive)")
                raise _ApiError(404, "Not Found", http_status=404)
            if self.token_revoked:
                raise _ApiError(*UNAUTHORIZED)
            if failures := self._failures.get(name):
                status = failures.pop(0)
                raise _ApiError(status, HTTPStatus(status).phrase, http_status=status)
            if self._internal_errors.get(name, 0) > 0:
                self._internal_errors[name] -= 1
                raise _ApiError(*INTERNAL_ERROR)
            result = handler(call.params, request)
            if asyncio.iscoroutine(result):
                result = await result
            if held := self._lost_answers.get(name):
                await self._sleep_unless_stopping(held.pop(0))
            return web.json_response({"ok": True, "result": result})
        except _ApiError as error:
            if not (name == "getUpdates" and error.error_code == 408):
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

    def _new_id(self) -> str:
        """A fresh hex id (Zalo's ids are 20 hex digits)."""
        return f"{next(self._ids):020x}"

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
        if self.quota_exceeded:
            raise _ApiError(*QUOTA_EXCEEDED)

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
            raise _ApiError(400, "Bad Request: a webhook is set; call deleteWebhook to use getUpdates")
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
                raise _ApiError(400, "Bad Request: a webhook is set; call deleteWebhook to use getUpdates")
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
        return self._record(SentMessage(chat_id, text, self._new_id()))

    async def _send_photo(self, params: dict[str, Any], request: web.Request) -> dict[str, Any]:
        chat_id = self._chat_id(params)
        self._check_send(chat_id)
        photo = params.get("photo")
        if not isinstance(photo, str) or not photo.startswith(("http://", "https://")):
            raise _ApiError(400, "Bad Request: photo (a URL) is required")
        caption = self._text(params.get("caption"), "caption", required=False)
        data = None
        if self.fetch_photos:  # as Zalo does: the photo is read from its URL when it is sent
            try:
                async with httpx.AsyncClient(timeout=10) as client:
                    response = await client.get(photo)
            except httpx.TransportError as exc:
                raise _ApiError(400, "Bad Request: cannot fetch the photo") from exc
            if response.status_code != 200:
                raise _ApiError(400, f"Bad Request: cannot fetch the photo ({response.status_code})")
            data = response.content
        return self._record(SentMessage(chat_id, None, self._new_id(), photo=photo, caption=caption, photo_bytes=data))

    def _send_sticker(self, params: dict[str, Any], request: web.Request) -> dict[str, Any]:
        chat_id = self._chat_id(params)
        self._check_send(chat_id)
        if not params.get("sticker"):
            raise _ApiError(400, "Bad Request: sticker is required")
        return self._record(SentMessage(chat_id, None, self._new_id()))

    def _send_chat_action(self, params: dict[str, Any], request: web.Request) -> bool:
        self._chat_id(params)
        if not params.get("action"):
            raise _ApiError(400, "Bad Request: action is required")
        return True

    def _set_webhook(self, params: dict[str, Any], request: web.Request) -> bool:
        if not params.get("url"):
            raise _ApiError(400, "Bad Request: url is required")
        secret = params.get("secret_token")
        if not isinstance(secret, str) or not MIN_SECRET <= len(secret) <= MAX_SECRET:
            raise _ApiError(400, f"Bad Request: secret_token must be {MIN_SECRET}-{MAX_SECRET} characters")
        self.webhook_url = str(params["url"])
        self.webhook_secret = params.get("secret_token")
        return True

    def _delete_webhook(self, params: dict[str, Any], request: web.Request) -> bool:
        self.webhook_url = self.webhook_secret = None
        return True

    def _get_webhook_info(self, params: dict[str, Any], request: web.Request) -> dict[str, Any]:
        return {"url": self.webhook_url or "", "updated_at": self._now_ms()}
