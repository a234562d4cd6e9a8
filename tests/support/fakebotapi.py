"""A local fake of the Telegram Bot API for end-to-end tests.

:class:`FakeBotApi` is a small ``aiohttp.web`` server that speaks enough of the Bot API for a real
python-telegram-bot (PTB) ``Application`` to run against it in polling mode. It listens on
``127.0.0.1`` with an ephemeral port and never touches the internet.

Typical use::

    async with FakeBotApi() as server:
        app = (
            ApplicationBuilder()
            .token("123:TEST")
            .base_url(server.base_url)
            .base_file_url(server.base_file_url)
            .build()
        )
        ...  # add handlers, initialize(), start(), updater.start_polling(poll_interval=0, timeout=1)
        lan = server.user(42, first_name="Lan")
        await lan.send("/start")
        reply = await lan.next_reply()
        assert "Xin chào" in reply.text
        await lan.tap(reply, reply.buttons[0][0][1])
        await lan.no_more_replies()

A bot running in a *separate process* can be pointed at the server with
``TELEGRAM_API_BASE_URL=server.base_url``; PTB appends ``{token}/{method}`` to it. The server runs on
the test's event loop, so the test must keep that loop free while the subprocess works (use
``asyncio.create_subprocess_exec``, not ``subprocess.run``).

The fake is deliberately strict where the real API is strict and where bots commonly get it wrong:
unknown chats, HTML that Telegram cannot parse, texts longer than 4096 characters, callback data
longer than 64 bytes, edits that change nothing ("message is not modified") and answering a callback
query twice all produce the same 400 errors Telegram would give. Every rejected request is listed in
:attr:`FakeBotApi.errors`, which is the first place to look when a test times out waiting for a reply.

The server is not thread-safe: use it only from the event loop it was started on.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from http import HTTPStatus
from typing import Any, NamedTuple

from aiohttp import web

from support.fakeserver import Call, FakeServer, Notifier

__all__ = [
    "BOT_USERNAME",
    "Call",
    "ErrorReply",
    "FakeBotApi",
    "FakeUser",
    "SentMessage",
    "StoredFile",
    "Upload",
]

BOT_USERNAME = "tcns_test_bot"
BOT_FIRST_NAME = "TCNS Test Bot"
DEFAULT_BOT_ID = 123

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_LONG_POLL_SECONDS = 50.0

#: Methods that create a new message in a chat (subject to :meth:`FakeBotApi.flood`).
SEND_METHODS = frozenset({"sendmessage", "sendphoto", "senddocument"})
#: Methods addressed to a chat (subject to :meth:`FakeBotApi.block_user`).
CHAT_METHODS = SEND_METHODS | {"sendchataction", "editmessagetext", "editmessagereplymarkup"}

# Form fields that are plain strings in the Bot API. PTB JSON-encodes every non-string value
# (ints, bools, lists, dicts) when it posts a form, but sends strings unquoted, so a text such as
# "42" or "true" must not be decoded.
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_message_id",
        "language_code",
        "action",
        "url",
        "file_id",
        "photo",
        "document",
        "business_connection_id",
        "message_effect_id",
    }
)
# Parameters holding JSON objects or arrays. Clients posting a JSON body may still send them as
# JSON-encoded strings (the Bot API allows it), so they are decoded in both cases.
_OBJECT_PARAMS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "commands",
        "scope",
        "allowed_updates",
        "link_preview_options",
        "reply_parameters",
    }
)


# --------------------------------------------------------------------------------------------
# Records exposed to tests
# --------------------------------------------------------------------------------------------


class ErrorReply(NamedTuple):
    """One request the server answered with an error."""

    method: str
    status: int
    description: str


@dataclass(repr=False)
class Upload:
    """A file uploaded in a multipart request; appears as a value in :attr:`Call.params`."""

    filename: str | None
    content_type: str | None
    data: bytes

    def __repr__(self) -> str:
        return f"Upload(filename={self.filename!r}, content_type={self.content_type!r}, {len(self.data)} bytes)"


@dataclass(repr=False)
class StoredFile:
    """A file known to the server (uploaded by the bot or added with :meth:`FakeBotApi.add_file`)."""

    file_id: str
    file_unique_id: str
    data: bytes | None
    filename: str | None = None
    mime_type: str | None = None

    @property
    def file_path(self) -> str:
        """Path of the file below :attr:`FakeBotApi.base_file_url` + token."""
        return f"files/{self.file_id}"

    def __repr__(self) -> str:
        size = "?" if self.data is None else len(self.data)
        return f"StoredFile({self.file_id!r}, filename={self.filename!r}, {size} bytes)"


@dataclass
class SentMessage:
    """A message the bot sent, kept up to date with later edits.

    ``text`` is exactly what the bot sent (markup included; the caption for photos and
    documents); ``plain_text`` is what the user sees once HTML markup is removed.
    """

    message_id: int
    chat_id: int
    kind: str  # "text" | "photo" | "document"
    text: str | None
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    date: int
    raw: dict[str, Any]  # parameters of the request that sent the message
    file: StoredFile | None = None
    edit_date: int | None = None
    edits: list[dict[str, Any]] = field(default_factory=list)  # parameters of each applied edit

    @property
    def caption(self) -> str | None:
        return self.text if self.kind != "text" else None

    @property
    def plain_text(self) -> str | None:
        return None if self.text is None else _render_text(self.text, self.parse_mode)

    @property
    def buttons(self) -> list[list[tuple[str, str | None]]]:
        """Inline keyboard as rows of ``(label, callback_data)``; ``callback_data`` is None for URL
        buttons and other non-callback buttons. Empty when there is no inline keyboard."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [[(button.get("text", ""), button.get("callback_data")) for button in row] for row in rows]

    @property
    def callback_data(self) -> list[str]:
        """All callback data values of the inline keyboard, in reading order."""
        return [data for row in self.buttons for _, data in row if data is not None]

    @property
    def keyboard(self) -> list[list[str]]:
        """Reply keyboard (``ReplyKeyboardMarkup``) as rows of button labels."""
        rows = (self.reply_markup or {}).get("keyboard") or []
        return [[button if isinstance(button, str) else button.get("text", "") for button in row] for row in rows]

    def data_for(self, label: str) -> str:
        """Callback data of the inline button whose label is ``label`` (or contains it)."""
        for candidates in (
            [data for row in self.buttons for text, data in row if text == label],
            [data for row in self.buttons for text, data in row if label in text],
        ):
            if candidates and candidates[0] is not None:
                return candidates[0]
        raise KeyError(f"no callback button labelled {label!r}; buttons: {self.buttons}")

    @property
    def file_bytes(self) -> bytes | None:
        return None if self.file is None else self.file.data

    @property
    def filename(self) -> str | None:
        return None if self.file is None else self.file.filename


# --------------------------------------------------------------------------------------------
# Errors and small helpers
# --------------------------------------------------------------------------------------------


class _ApiError(Exception):
    """Raised by method handlers; turned into a Bot API error response."""

    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def _bad_request(detail: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {detail}")


_HTML_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code", "pre"}
    | {"blockquote", "tg-emoji"}
)
_HTML_TAG = re.compile(r"<(/?)([^\s>/]*)[^>]*>")
_HTML_ENTITY = re.compile(r"&(?:#(\d+)|#[xX]([0-9a-fA-F]+)|(lt|gt|amp|quot));")
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _parse_html(text: str) -> str:
    """Return the visible text of Telegram-flavoured HTML, failing like Telegram does.

    Mirrors the rules of Telegram's parser: only the documented tags are allowed, tags must nest
    properly, every ``<`` must start a tag, and only ``&lt; &gt; &amp; &quot;`` and numeric
    entities are decoded (any other ``&`` is kept literally).
    """
    out: list[str] = []
    stack: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "&" and (entity := _HTML_ENTITY.match(text, i)):
            number, hex_number, name = entity.groups()
            out.append(_NAMED_ENTITIES[name] if name else chr(int(number) if number else int(hex_number, 16)))
            i = entity.end()
        elif char == "<":
            offset = len(text[:i].encode())
            tag = _HTML_TAG.match(text, i)
            if tag is None:
                raise _bad_request(f"can't parse entities: Unclosed start tag at byte offset {offset}")
            closing, name = tag.group(1), tag.group(2).lower()
            if not closing:
                if name not in _HTML_TAGS:
                    raise _bad_request(f'can\'t parse entities: Unsupported start tag "{name}" at byte offset {offset}')
                stack.append(name)
            elif not stack:
                raise _bad_request(f"can't parse entities: Unexpected end tag at byte offset {offset}")
            elif stack[-1] != name:
                raise _bad_request(
                    f"can't parse entities: Unmatched end tag at byte offset {offset}, "
                    f'expected "</{stack[-1]}>", found "</{name}>"'
                )
            else:
                stack.pop()
            i = tag.end()
        else:
            out.append(char)
            i += 1
    if stack:
        raise _bad_request(f"can't parse entities: Can't find end tag corresponding to start tag \"{stack[-1]}\"")
    return "".join(out)


@lru_cache(maxsize=1024)  # a pure function, asked twice per message sent (the length check, the answer)
def _render_text(text: str, parse_mode: str | None) -> str:
    """Visible text for ``parse_mode``. Only HTML is parsed; Markdown is passed through as-is."""
    if parse_mode and parse_mode.lower() == "html":
        return _parse_html(text)
    return text


def _command_entities(text: str) -> list[dict[str, Any]]:
    """The ``bot_command`` entity Telegram attaches to a message starting with ``/command``."""
    if not text.startswith("/"):
        return []
    command = text.split(maxsplit=1)[0]
    return [{"type": "bot_command", "offset": 0, "length": len(command.encode("utf-16-le")) // 2}]


def _decode_form_value(key: str, value: str) -> Any:
    if key in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Parameters of a Bot API request, whatever way they were sent.

    PTB (httpx) posts ``application/x-www-form-urlencoded`` without files and ``multipart/form-data``
    with files; in both, non-string values (``chat_id``, ``reply_markup``, ...) are JSON-encoded
    strings. Other clients may send a JSON body or query parameters.
    """
    params: dict[str, Any] = {key: _decode_form_value(key, value) for key, value in request.query.items()}
    if request.content_type == "application/json" and request.can_read_body:
        try:
            body = await request.json()
        except ValueError as exc:
            raise _bad_request("can't parse JSON request body") from exc
        if not isinstance(body, dict):
            raise _bad_request("JSON request body must be an object")
        params.update(body)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                params[key] = Upload(value.filename, value.content_type, value.file.read())
            else:
                params[key] = _decode_form_value(key, str(value))
    return _decoded_objects(params)


def _decoded_objects(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with the object parameters that came as JSON text (``reply_markup``...) decoded."""
    for key in _OBJECT_PARAMS & params.keys():
        if isinstance(params[key], str):
            try:
                params[key] = json.loads(params[key])
            except ValueError as exc:
                raise _bad_request(f"can't parse {key} JSON object") from exc
    return params


def _int_param(params: dict[str, Any], name: str, default: int | None = None) -> int | None:
    value = params.get(name, default)
    if value is None or isinstance(value, int):
        return value
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise _bad_request(f"invalid {name} specified") from exc


def _check_reply_markup(markup: Any) -> dict[str, Any] | None:
    """Validate the parts of a reply markup that bots commonly get wrong."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise _bad_request("can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard") or []:
        for button in row:
            if not button.get("text"):
                raise _bad_request("can't parse inline keyboard button: Text must be non-empty")
            if len(button) == 1:
                raise _bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                )
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
                raise _bad_request("BUTTON_DATA_INVALID")
    return markup


def _inline_only(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    """The part of a reply markup that Telegram echoes back in a Message (inline keyboards only)."""
    return markup if markup and "inline_keyboard" in markup else None


@dataclass
class _QueuedUpdate:
    update: dict[str, Any]
    delivered: bool = False

    @property
    def update_id(self) -> int:
        return self.update["update_id"]


# --------------------------------------------------------------------------------------------
# Test-side user
# --------------------------------------------------------------------------------------------


class FakeUser:
    """A Telegram user talking to the bot in a private chat (chat id == user id).

    Keeps a read cursor over the bot's messages to this chat: :meth:`next_reply` returns the
    oldest message not yet returned, so a test reads the conversation in order.
    """

    def __init__(
        self,
        server: FakeBotApi,
        user_id: int,
        first_name: str,
        username: str | None,
        language_code: str | None,
    ) -> None:
        self.server = server
        self.id = user_id
        self.first_name = first_name
        self.username = username
        self.language_code = language_code
        self._cursor = 0

    @property
    def chat_id(self) -> int:
        return self.id

    def api_user(self) -> dict[str, Any]:
        """This user as a Bot API ``User`` object."""
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    def api_chat(self) -> dict[str, Any]:
        """This user's private chat as a Bot API ``Chat`` object."""
        chat: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.username:
            chat["username"] = self.username
        return chat

    # -- building and queuing updates ---------------------------------------------------------

    def message_update(self, text: str, **message_fields: Any) -> dict[str, Any]:
        """Build (without queuing) an update carrying a text message from this user.

        A leading ``/command`` gets its ``bot_command`` entity. ``message_fields`` are merged into
        the message (e.g. ``reply_to_message=...``). The update already has its ``update_id``, so
        queuing the same dict twice with :meth:`FakeBotApi.queue_raw_update` simulates redelivery.
        """
        message: dict[str, Any] = {
            "message_id": self.server._new_message_id(self.id),
            "date": self.server._now(),
            "chat": self.api_chat(),
            "from": self.api_user(),
            "text": text,
        }
        if entities := _command_entities(text):
            message["entities"] = entities
        message.update(message_fields)
        return {"update_id": self.server._new_update_id(), "message": message}

    def callback_update(self, message: SentMessage, data: str, *, check: bool = True) -> dict[str, Any]:
        """Build (without queuing) an update for a tap on an inline button of ``message``.

        With ``check`` (the default) ``data`` must be the callback data of one of the message's
        *current* buttons, as only those can be tapped in a real client; pass ``check=False`` to
        simulate a tap on a stale keyboard.
        """
        if message.chat_id != self.id:
            raise ValueError(f"message {message.message_id} was sent to chat {message.chat_id}, not {self.id}")
        if check and data not in message.callback_data:
            raise ValueError(f"message {message.message_id} has no button with data {data!r}: {message.buttons}")
        query = {
            "id": self.server._new_callback_query_id(),
            "from": self.api_user(),
            "message": self.server._message_json(message),
            "chat_instance": f"ci{self.id}",
            "data": data,
        }
        return {"update_id": self.server._new_update_id(), "callback_query": query}

    async def send(self, text: str, **message_fields: Any) -> int:
        """Queue a text message from this user; returns its ``update_id``."""
        return self.server.queue_raw_update(self.message_update(text, **message_fields))

    async def tap(self, message: SentMessage, data: str, *, check: bool = True) -> str:
        """Queue a tap on an inline button of a bot message; returns the callback query id.

        Wait for the bot's answer with :meth:`callback_answer`.
        """
        update = self.callback_update(message, data, check=check)
        self.server.queue_raw_update(update)
        return update["callback_query"]["id"]

    async def callback_answer(self, query_id: str, timeout: float = 5) -> dict[str, Any]:
        """Wait for the bot's ``answerCallbackQuery`` for ``query_id``; returns its parameters."""
        return await self.server.wait_for_callback_answer(query_id, timeout)

    # -- reading the bot's messages -----------------------------------------------------------

    def replies_so_far(self) -> list[SentMessage]:
        """Every message the bot has sent to this chat, oldest first (read or not)."""
        return self.server.messages(self.id)

    def unread_replies(self) -> list[SentMessage]:
        """Messages not yet returned by :meth:`next_reply`; marks them as read."""
        unread = self.replies_so_far()[self._cursor :]
        self._cursor += len(unread)
        return unread

    async def next_reply(self, timeout: float = 5) -> SentMessage:
        """The next unread message the bot sent to this chat, waiting for it if needed.

        Edits do not count as new replies; they update the :class:`SentMessage` in place.
        """
        position = self._cursor
        unread = await self.server.wait_until(
            lambda: self.replies_so_far()[position:], timeout, what=f"reply #{position + 1} to chat {self.id}"
        )
        self._cursor = position + 1
        return unread[0]

    async def next_replies(self, count: int, timeout: float = 5) -> list[SentMessage]:
        """The next ``count`` unread messages, waiting for all of them."""
        return [await self.next_reply(timeout) for _ in range(count)]

    async def no_more_replies(self, wait: float = 0.5) -> None:
        """Wait ``wait`` seconds, then fail if the bot sent anything that was not read yet."""
        await asyncio.sleep(wait)
        unread = self.replies_so_far()[self._cursor :]
        if unread:
            summary = "; ".join(f"#{m.message_id} {m.kind}: {m.text!r}" for m in unread)
            raise AssertionError(f"unexpected replies to chat {self.id}: {summary}")

    def __repr__(self) -> str:
        return f"FakeUser(id={self.id}, first_name={self.first_name!r}, username={self.username!r})"


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


class Hold:
    """Calls held by :meth:`FakeBotApi.hold` until :meth:`release`."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.passed = 0  # calls let through before the hold began
        self.waiting = 0
        self._released = asyncio.Event()

    async def enter(self, changed: Notifier) -> None:
        if self._released.is_set():
            return
        if self.passed < self.after:
            self.passed += 1
            return
        self.waiting += 1
        changed.notify()
        await self._released.wait()

    def release(self) -> None:
        """Let every held call (and every later one) through."""
        self._released.set()


class FakeBotApi(FakeServer):
    """In-process fake Telegram Bot API server; see the module docstring for an overview.

    Attributes a test reads directly:

    * ``base_url`` / ``base_file_url`` - for ``ApplicationBuilder.base_url()`` / ``.base_file_url()``
    * ``token_seen`` - the bot token of the most recent request
    * ``calls`` - every request as :class:`Call` ``(method, params)``, in arrival order
    * ``errors`` - every request answered with an error, as :class:`ErrorReply`
    * ``unknown_methods`` - names of called methods the fake does not implement (answered with 404)
    * ``callback_answers`` - ``answerCallbackQuery`` parameters by callback query id
    * ``commands`` - the command list of the last ``setMyCommands``
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_username: str = BOT_USERNAME,
        bot_first_name: str = BOT_FIRST_NAME,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(host, port)
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.clock = clock

        self.token_seen: str | None = None
        self.calls: list[Call] = []
        self.errors: list[ErrorReply] = []
        self.unknown_methods: list[str] = []
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.commands: list[dict[str, Any]] | None = None
        self.webhook: dict[str, Any] | None = None  # the last setWebhook's parameters (url, secret_token...)

        self._users: dict[int, FakeUser] = {}
        self._chats: dict[int, dict[str, Any]] = {}
        self._messages: dict[int, dict[int, SentMessage]] = {}
        self._files: dict[str, StoredFile] = {}
        self._commands_by_scope: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._queue: list[_QueuedUpdate] = []
        self._open_callback_queries: set[str] = set()

        self._blocked: set[int] = set()
        self._floods: dict[int, list[int]] = {}  # chat id -> retry_after of each pending 429
        self._failures: dict[str, list[tuple[int, str]]] = {}  # method -> pending (status, description)

        self._last_update_id = 0  # highest update_id handed out or queued
        self._callback_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._poll_generation = 0

        self._lost_answers: dict[str, list[float]] = {}
        self._holds: dict[str, Hold] = {}
        self._methods: dict[str, Callable[[dict[str, Any]], Any]] = {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "deletewebhook": self._delete_webhook,
            "setwebhook": self._set_webhook,
            "close": self._true,
            "logout": self._true,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "sendmessage": self._send_message,
            "sendphoto": self._send_photo,
            "senddocument": self._send_document,
            "sendchataction": self._send_chat_action,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "answercallbackquery": self._answer_callback_query,
            "getfile": self._get_file,
        }

    # -- lifecycle ----------------------------------------------------------------------------

    client_max_size = 64 * 1024 * 1024  # uploads (charts, spreadsheets)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", r"/bot{token:[^/]+}/{method:[^/]+}", self._handle_method)
        app.router.add_route("GET", r"/file/bot{token:[^/]+}/{path:.+}", self._handle_file)

    @property
    def base_file_url(self) -> str:
        """``http://127.0.0.1:PORT/file/bot``; PTB appends ``{token}/{file_path}``."""
        return f"http://{self.host}:{self.port}/file/bot"

    # -- building updates ---------------------------------------------------------------------

    def user(
        self,
        user_id: int,
        first_name: str = "Lan",
        username: str | None = None,
        language_code: str | None = "vi",
    ) -> FakeUser:
        """The user with this id (created on first use; later calls return the same object).

        Creating a user makes its private chat known, so the bot may message it.
        """
        if user_id not in self._users:
            user = FakeUser(self, user_id, first_name, username, language_code)
            self._users[user_id] = user
            self._chats[user_id] = user.api_chat()
        return self._users[user_id]

    def queue_raw_update(self, update: dict[str, Any]) -> int:
        """Queue any update dict for ``getUpdates``; returns its ``update_id``.

        An ``update_id`` is assigned if missing. Queuing an update whose id was already delivered
        delivers it again (unlike Telegram), which is how redelivery after a crash is simulated.
        Chats and callback queries found in the update become known to the server.
        """
        update = dict(update)
        if "update_id" not in update:
            update["update_id"] = self._new_update_id()
        self._last_update_id = max(self._last_update_id, update["update_id"])
        for payload in update.values():
            if isinstance(payload, dict):
                chat = payload.get("chat") or (payload.get("message") or {}).get("chat")
                if isinstance(chat, dict) and "id" in chat:
                    self._chats.setdefault(chat["id"], chat)
        if "callback_query" in update:
            self._open_callback_queries.add(str(update["callback_query"]["id"]))
        self._queue.append(_QueuedUpdate(update))
        self._changed.notify()
        return update["update_id"]

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates queued and not yet confirmed by the bot (delivered or not)."""
        return [item.update for item in self._queue]

    def add_file(self, data: bytes, filename: str | None = None, mime_type: str | None = None) -> StoredFile:
        """Store a file (e.g. for a document a user sends in a raw update) for ``getFile``."""
        number = next(self._file_ids)
        stored = StoredFile(f"file-{number}", f"uniq-{number}", data, filename, mime_type)
        self._files[stored.file_id] = stored
        return stored

    # -- inspecting what the bot did ----------------------------------------------------------

    def messages(self, chat_id: int) -> list[SentMessage]:
        """Messages the bot sent to ``chat_id`` (sendMessage/sendPhoto/sendDocument), oldest first."""
        return list(self._messages.get(chat_id, {}).values())

    def message(self, chat_id: int, message_id: int) -> SentMessage:
        return self._messages[chat_id][message_id]

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        """Parameters of every call to ``method`` (case-insensitive)."""
        return [call.params for call in self.calls if call.method.lower() == method.lower()]

    def commands_for(self, scope: dict[str, Any] | None = None, language_code: str = "") -> list[dict[str, Any]]:
        """Commands set for a scope (default scope if None) and language."""
        return self._commands_by_scope.get(self._commands_key(scope, language_code), [])

    def assert_no_unknown_methods(self) -> None:
        assert not self.unknown_methods, f"bot called methods the fake does not know: {self.unknown_methods}"

    async def wait_for_messages(self, chat_id: int, count: int, timeout: float = 10) -> list[SentMessage]:
        """Wait until the bot has sent at least ``count`` messages to ``chat_id``; return them all."""

        def enough() -> list[SentMessage] | None:
            messages = self.messages(chat_id)
            return messages if len(messages) >= count else None

        return await self.wait_until(enough, timeout, what=f"{count} messages to chat {chat_id}")

    async def wait_for_call(self, method: str, timeout: float = 5) -> dict[str, Any]:
        """Wait until ``method`` has been called at least once; return the last call's parameters."""
        calls = await self.wait_until(lambda: self.calls_to(method), timeout, what=f"a call to {method}")
        return calls[-1]

    async def wait_for_callback_answer(self, query_id: str, timeout: float = 5) -> dict[str, Any]:
        """Wait for ``answerCallbackQuery`` on ``query_id``; return its parameters."""
        return await self.wait_until(
            lambda: self.callback_answers.get(query_id),
            timeout,
            what=f"an answer to callback query {query_id}",
        )

    async def wait_until_delivered(self, timeout: float = 5) -> None:
        """Wait until the bot has fetched every queued update."""
        await self.wait_until(
            lambda: all(item.delivered for item in self._queue) or None,
            timeout,
            what="queued updates to be fetched",
        )

    # -- fault injection ----------------------------------------------------------------------

    def block_user(self, chat_id: int) -> None:
        """From now on, requests to ``chat_id`` fail with 403 "Forbidden: bot was blocked by the user"."""
        self._blocked.add(chat_id)

    def unblock_user(self, chat_id: int) -> None:
        self._blocked.discard(chat_id)

    def flood(self, chat_id: int, retry_after: int = 1, times: int = 1) -> None:
        """The next ``times`` sends (sendMessage/sendPhoto/sendDocument) to ``chat_id`` fail with 429."""
        self._floods.setdefault(chat_id, []).extend([retry_after] * times)

    def fail_next(self, method: str, times: int = 1, status: int = 502, description: str | None = None) -> None:
        """The next ``times`` calls of ``method`` fail with HTTP ``status`` (502: PTB's NetworkError)."""
        description = description or HTTPStatus(status).phrase
        self._failures.setdefault(method.lower(), []).extend([(status, description)] * times)

    def lose_answer(self, method: str, times: int = 1, hold: float = 5.0) -> None:
        """The next ``times`` calls of ``method`` are carried out (a message arrives) but the HTTP
        answer is held ``hold`` seconds: the client's read timeout fires first."""
        self._lost_answers.setdefault(method.lower(), []).extend([hold] * times)

    def hold(self, method: str, after: int = 0) -> Hold:
        """Calls of ``method`` after the first ``after`` wait, not yet carried out and unanswered,
        until the returned :class:`Hold` is released: "requests in flight" for as long as a test
        needs them. ``Hold.waiting`` counts the calls waiting."""
        gate = Hold(after)
        self._holds[method.lower()] = gate
        return gate

    # -- HTTP plumbing ------------------------------------------------------------------------

    async def webhook_answer(self, body: bytes, content_type: str | None) -> None:
        """What Telegram does with a webhook's answer: a JSON body naming a ``method`` is that
        Bot API call, made by Telegram for the bot; its result (or error) goes to nobody (it is
        recorded in :attr:`calls` and :attr:`errors` as any other). An empty body does nothing."""
        if not body or not (content_type or "").startswith("application/json"):
            return
        params = json.loads(body)
        method = params.pop("method", None) if isinstance(params, dict) else None
        if not isinstance(method, str):
            return
        call = Call(method, {})
        self.calls.append(call)
        await self._run_method(call, _decoded_objects(params))

    async def _handle_method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.token_seen = request.match_info["token"]
        # Record the call before handling it, so a test can see a long poll that is still waiting.
        call = Call(method, {})
        self.calls.append(call)
        try:
            params = await _read_params(request)
        except _ApiError as error:
            params = None
            failure = error
        if params is None:
            self.errors.append(ErrorReply(method, failure.status, failure.description))
            self._changed.notify()
            return web.json_response({"ok": False, "error_code": failure.status, "description": failure.description},
                                     status=failure.status)
        return await self._run_method(call, params)

    async def _run_method(self, call: Call, params: dict[str, Any]) -> web.Response:
        method = call.method
        try:
            call.params.update(params)
            handler = self._methods.get(method.lower())
            if handler is None:
                self.unknown_methods.append(method)
                raise _ApiError(404, "Not Found: method not found")
            if (gate := self._holds.get(method.lower())) is not None:
                await gate.enter(self._changed)
            self._inject_faults(method.lower(), call.params)
            result = handler(call.params)
            if asyncio.iscoroutine(result):
                result = await result
            if held := self._lost_answers.get(method.lower()):
                await asyncio.sleep(held.pop(0))
            return web.json_response({"ok": True, "result": result})
        except _ApiError as error:
            self.errors.append(ErrorReply(method, error.status, error.description))
            body: dict[str, Any] = {"ok": False, "error_code": error.status, "description": error.description}
            if error.parameters:
                body["parameters"] = error.parameters
            return web.json_response(body, status=error.status)
        finally:
            self._changed.notify()

    async def _handle_file(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        for stored in self._files.values():
            if stored.file_path == path and stored.data is not None:
                return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")
        raise web.HTTPNotFound()

    def _inject_faults(self, method: str, params: dict[str, Any]) -> None:
        if pending := self._failures.get(method):
            status, description = pending.pop(0)
            raise _ApiError(status, description)
        if method not in CHAT_METHODS:
            return
        chat_id = self._chat_id(params)
        if chat_id in self._blocked:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")
        if method in SEND_METHODS and (floods := self._floods.get(chat_id)):
            retry_after = floods.pop(0)
            raise _ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})

    # -- ids, clock, JSON objects -------------------------------------------------------------

    def _now(self) -> int:
        return int(self.clock())

    def _new_update_id(self) -> int:
        self._last_update_id += 1
        return self._last_update_id

    def _new_message_id(self, chat_id: int) -> int:
        return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def _new_callback_query_id(self) -> str:
        return str(next(self._callback_ids))

    def _bot_user(self) -> dict[str, Any]:
        bot_id = DEFAULT_BOT_ID
        if self.token_seen and self.token_seen.split(":", 1)[0].isdigit():
            bot_id = int(self.token_seen.split(":", 1)[0])
        return {
            "id": bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def _message_json(self, message: SentMessage) -> dict[str, Any]:
        """``message`` as the Bot API ``Message`` object Telegram would return."""
        data: dict[str, Any] = {
            "message_id": message.message_id,
            "date": message.date,
            "chat": self._chats.get(message.chat_id, {"id": message.chat_id, "type": "private"}),
            "from": self._bot_user(),
        }
        if message.kind == "text":
            data["text"] = message.plain_text
        elif message.text:
            data["caption"] = message.plain_text
        if message.kind == "photo" and message.file is not None:
            size = len(message.file.data or b"")
            photo_size = {"file_id": message.file.file_id, "file_unique_id": message.file.file_unique_id}
            data["photo"] = [{**photo_size, "width": 320, "height": 320, "file_size": size}]
        if message.kind == "document" and message.file is not None:
            data["document"] = self._file_json(message.file)
        if message.edit_date is not None:
            data["edit_date"] = message.edit_date
        if markup := _inline_only(message.reply_markup):
            data["reply_markup"] = markup
        return data

    @staticmethod
    def _file_json(stored: StoredFile) -> dict[str, Any]:
        data: dict[str, Any] = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        if stored.data is not None:
            data["file_size"] = len(stored.data)
        if stored.filename:
            data["file_name"] = stored.filename
        if stored.mime_type:
            data["mime_type"] = stored.mime_type
        return data

    @staticmethod
    def _commands_key(scope: dict[str, Any] | None, language_code: str | None) -> tuple[str, str]:
        return json.dumps(scope or {"type": "default"}, sort_keys=True), language_code or ""

    # -- parameter helpers --------------------------------------------------------------------

    def _chat_id(self, params: dict[str, Any]) -> int:
        value = params.get("chat_id")
        if value is None or value == "":
            raise _bad_request("chat_id is empty")
        try:
            chat_id = int(value)
        except (TypeError, ValueError) as exc:
            raise _bad_request("chat not found") from exc
        return chat_id

    def _known_chat_id(self, params: dict[str, Any]) -> int:
        chat_id = self._chat_id(params)
        if chat_id not in self._chats:
            raise _bad_request("chat not found")
        return chat_id

    def _target_message(self, params: dict[str, Any]) -> SentMessage:
        if params.get("inline_message_id"):
            raise _bad_request("inline messages are not supported by the fake Bot API")
        chat_id = self._known_chat_id(params)
        message_id = _int_param(params, "message_id")
        message = self._messages.get(chat_id, {}).get(message_id or 0)
        if message is None:
            raise _bad_request("message to edit not found")
        return message

    def _store_message(
        self,
        chat_id: int,
        kind: str,
        text: str | None,
        params: dict[str, Any],
        file: StoredFile | None = None,
    ) -> dict[str, Any]:
        message = SentMessage(
            message_id=self._new_message_id(chat_id),
            chat_id=chat_id,
            kind=kind,
            text=text,
            parse_mode=params.get("parse_mode"),
            reply_markup=_check_reply_markup(params.get("reply_markup")),
            date=self._now(),
            raw=params,
            file=file,
        )
        self._messages.setdefault(chat_id, {})[message.message_id] = message
        return self._message_json(message)

    def _media(self, params: dict[str, Any], name: str) -> StoredFile:
        """Resolve the ``photo``/``document`` parameter: an upload, ``attach://``, a file id or a URL."""
        value = params.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value.removeprefix("attach://"))
        if isinstance(value, Upload):
            return self.add_file(value.data, value.filename, value.content_type)
        if isinstance(value, str | int) and str(value):
            known = self._files.get(str(value))
            return known or StoredFile(str(value), f"uniq-{value}", None)
        raise _bad_request(f"there is no {name} in the request")

    def _caption(self, params: dict[str, Any]) -> str | None:
        caption = params.get("caption")
        if caption and len(_render_text(caption, params.get("parse_mode"))) > MAX_CAPTION_LENGTH:
            raise _bad_request("message caption is too long")
        return caption or None

    @staticmethod
    def _check_text(text: Any, parse_mode: str | None) -> str:
        if not isinstance(text, str) or not text.strip():
            raise _bad_request("message text is empty")
        if len(_render_text(text, parse_mode)) > MAX_TEXT_LENGTH:
            raise _bad_request("message is too long")
        return text

    # -- Bot API methods ----------------------------------------------------------------------

    @staticmethod
    def _true(params: dict[str, Any]) -> bool:
        return True

    def _set_webhook(self, params: dict[str, Any]) -> bool:
        if not params.get("url"):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook = params
        return True

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        self.webhook = None
        return True

    def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Long poll: confirm updates below ``offset``, then wait up to ``timeout`` for new ones.

        A newer ``getUpdates`` ends a waiting one with an empty result: its client has gone away
        (PTB cancels the pending poll when it stops, then polls once more to confirm updates).
        ``stop()`` ends every waiting poll with an empty result.
        """
        self._poll_generation += 1
        generation = self._poll_generation
        self._changed.notify()  # lets an older waiting poll notice it has been superseded
        offset = _int_param(params, "offset")
        limit = min(max(_int_param(params, "limit", 100) or 100, 1), 100)
        timeout = min(max(float(params.get("timeout") or 0), 0.0), MAX_LONG_POLL_SECONDS)
        if offset is not None and offset > 0:
            self._queue = [item for item in self._queue if not (item.delivered and item.update_id < offset)]

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._queue and not self._stopping and (remaining := deadline - loop.time()) > 0:
            await self._changed.wait(remaining)
            if generation != self._poll_generation:
                return []
        batch = [] if self._stopping else self._queue[:limit]
        for item in batch:
            item.delivered = True
        return [item.update for item in batch]

    def _set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request('parameter "commands" is required')
        for command in commands:
            name = str(command.get("command", "")).removeprefix("/")
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self._commands_by_scope[self._commands_key(params.get("scope"), params.get("language_code"))] = commands
        self.commands = commands
        return True

    def _get_my_commands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self.commands_for(params.get("scope"), params.get("language_code") or "")

    def _delete_my_commands(self, params: dict[str, Any]) -> bool:
        self._commands_by_scope.pop(self._commands_key(params.get("scope"), params.get("language_code")), None)
        return True

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._known_chat_id(params)
        text = self._check_text(params.get("text"), params.get("parse_mode"))
        return self._store_message(chat_id, "text", text, params)

    def _send_photo(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._known_chat_id(params)
        caption = self._caption(params)
        return self._store_message(chat_id, "photo", caption, params, self._media(params, "photo"))

    def _send_document(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._known_chat_id(params)
        caption = self._caption(params)
        return self._store_message(chat_id, "document", caption, params, self._media(params, "document"))

    def _send_chat_action(self, params: dict[str, Any]) -> bool:
        self._known_chat_id(params)
        if not params.get("action"):
            raise _bad_request("wrong parameter action in request")
        return True

    def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any]:
        """Replace text and keyboard. Like Telegram, an edit without ``reply_markup`` removes the
        inline keyboard, and an edit that changes nothing fails with "message is not modified"."""
        message = self._target_message(params)
        if message.kind != "text":
            raise _bad_request("there is no text in the message to edit")
        text = self._check_text(params.get("text"), params.get("parse_mode"))
        markup = _check_reply_markup(params.get("reply_markup"))
        unchanged_text = text == message.text and params.get("parse_mode") == message.parse_mode
        if unchanged_text and _inline_only(markup) == _inline_only(message.reply_markup):
            raise _bad_request(
                "message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message"
            )
        message.text, message.parse_mode, message.reply_markup = text, params.get("parse_mode"), markup
        return self._apply_edit(message, params)

    def _edit_message_reply_markup(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._target_message(params)
        markup = _check_reply_markup(params.get("reply_markup"))
        if _inline_only(markup) == _inline_only(message.reply_markup):
            raise _bad_request(
                "message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message"
            )
        message.reply_markup = markup
        return self._apply_edit(message, params)

    def _apply_edit(self, message: SentMessage, params: dict[str, Any]) -> dict[str, Any]:
        message.edit_date = self._now()
        message.edits.append(params)
        return self._message_json(message)

    def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self._open_callback_queries:
            raise _bad_request("query is too old and response timeout expired or query ID is invalid")
        self._open_callback_queries.discard(query_id)
        self.callback_answers[query_id] = params
        return True

    def _get_file(self, params: dict[str, Any]) -> dict[str, Any]:
        stored = self._files.get(str(params.get("file_id", "")))
        if stored is None or stored.data is None:
            raise _bad_request("invalid file_id")
        return {**self._file_json(stored), "file_path": stored.file_path}
