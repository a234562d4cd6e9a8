"""Zalo adapter on the Zalo Bot API: long polling in, the engine decides, plain text out.

The Zalo Bot API (bot-api.zaloplatforms.com) is shaped like Telegram's: ``POST
{base}/bot{TOKEN}/{method}`` with a JSON body, answered ``{"ok": true, "result": ...}`` or
``{"ok": false, "error_code": N, "description": ...}``. What differs, and what this module
is built around:

* ``getUpdates`` long-polls (``timeout`` in seconds) and returns ONE event, not a list,
  with no update id or offset; error 408 means "nothing arrived". The event's
  ``message.message_id`` is the de-duplication key (``processed_updates``).
* Messages are text only: no buttons and no command menu. Replies are rendered by
  :func:`bot.handlers.plain.render_plain` (options become ``[key] label`` lines the user
  answers by typing the key), as in the terminal chat.
* Files go by URL only, and tcns has no public file host, so a chart or spreadsheet is
  replaced by a line telling the user where to get it.
* Only private chats are served; group messages are ignored, as on Telegram.

No conversation state lives here: the engine keeps it in storage, so a restart
continues where it was. The API shape was taken from Zalo's public documentation and
SDKs; tests run against ``tests/fakezaloapi.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import httpx

from bot.content import Content
from bot.domain.messages import Inbound, Reply, plain_text
from bot.flows.engine import Engine
from bot.handlers.plain import render_plain
from bot.handlers.plain import split_text as split_plain
from bot.services.inbox import Delivered, Dispatcher, Inbox, handle_with_retries

log = logging.getLogger(__name__)

CHANNEL = "zalo"
DEFAULT_BASE_URL = "https://bot-api.zaloplatforms.com/bot"
POLL_SECONDS = 30  # long-poll window of one getUpdates call
MAX_TEXT = 2000  # characters of one sendMessage; longer replies go out in parts, split at lines
NOTHING_NEW = 408  # getUpdates: the window passed without an event
WEBHOOK_ACTIVE = 409  # getUpdates refused while a webhook is set
BLOCKED_CODES = (403,)
RETRY_CODES = (429,)
SEND_ATTEMPTS = 4
BACKOFF_SECONDS = (0.5, 1.0, 2.0, 4.0)
MAX_RETRY_AFTER = 60.0
DEFAULT_CONCURRENCY = 32
STOP_GRACE_SECONDS = 6.0  # events being handled at a stop get this long (docker stop waits 10 s)
TEXT_EVENT = "message.text.received"
# Transport errors raised before a byte of the request was sent: safe to send again.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class ZaloError(Exception):
    """Zalo answered ``ok: false`` (or an HTTP error with no usable body)."""

    def __init__(self, code: int, description: str, retry_after: float | None = None) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.retry_after = retry_after


class ZaloNetworkError(Exception):
    """The request failed in transport; ``may_have_arrived`` if it could have reached Zalo."""

    def __init__(self, cause: httpx.TransportError) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.may_have_arrived = not isinstance(cause, NOT_SENT)


class ZaloClient:
    """The few Bot API calls tcns makes, over one pooled httpx client."""

    def __init__(self, token: str, base_url: str = DEFAULT_BASE_URL, timeout: float = 10.0) -> None:
        self._url = f"{base_url}{token}/"
        self._timeout = timeout
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(timeout))

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ZaloClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def call(self, method: str, params: dict[str, Any] | None = None, read_timeout: float | None = None) -> Any:
        timeout = httpx.Timeout(self._timeout, read=read_timeout or self._timeout)
        try:
            response = await self._http.post(self._url + method, json=params or {}, timeout=timeout)
        except httpx.TransportError as exc:
            raise ZaloNetworkError(exc) from exc
        try:
            body = response.json()
        except ValueError:
            raise ZaloError(response.status_code, response.text[:200] or response.reason_phrase) from None
        if isinstance(body, dict) and body.get("ok") is True:
            return body.get("result")
        body = body if isinstance(body, dict) else {}
        retry_after = (body.get("parameters") or {}).get("retry_after")
        raise ZaloError(int(body.get("error_code") or response.status_code), str(body.get("description") or ""),
                        float(retry_after) if retry_after is not None else None)

    async def get_me(self) -> dict[str, Any]:
        return await self.call("getMe")  # type: ignore[no-any-return]

    async def get_update(self, timeout: int = POLL_SECONDS) -> dict[str, Any] | None:
        """The next event, or None when the window passed without one."""
        try:
            return await self.call("getUpdates", {"timeout": str(timeout)}, read_timeout=timeout + 10)  # type: ignore[no-any-return]
        except ZaloError as exc:
            if exc.code == NOTHING_NEW:
                return None
            raise

    async def delete_webhook(self) -> None:
        await self.call("deleteWebhook")

    async def send_message(self, chat_id: str, text: str) -> None:
        await self.call("sendMessage", {"chat_id": chat_id, "text": text})


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """``text`` in parts of at most ``limit`` characters, cut at line ends where possible."""
    return split_plain(text, limit)


def to_inbound(event: dict[str, Any]) -> Inbound | None:
    """The channel-free view of an event; None for events the bot ignores (groups, bots, malformed)."""
    message = event.get("message")
    if not isinstance(message, dict):
        return None
    sender, chat = message.get("from") or {}, message.get("chat") or {}
    message_id, user_id, chat_id = message.get("message_id"), sender.get("id"), chat.get("id")
    if not message_id or not user_id or not chat_id or sender.get("is_bot"):
        return None
    if str(chat.get("chat_type", "PRIVATE")).upper() != "PRIVATE":
        return None
    text = message.get("text") if event.get("event_name") == TEXT_EVENT else None
    # Photos, stickers and voice get the engine's "text only" answer; their content is never kept.
    return Inbound(channel=CHANNEL, update_key=str(message_id), user_id=str(user_id), chat_id=str(chat_id),
                   display_name=sender.get("display_name") or None, text=text if isinstance(text, str) else "")


def key_and_chat(event: dict[str, Any]) -> tuple[str, str] | None:
    """An event's de-duplication key (message id) and chat; None if it has neither."""
    message = event.get("message")
    if not isinstance(message, dict):
        return None
    message_id, chat_id = message.get("message_id"), (message.get("chat") or {}).get("id")
    if not message_id or not chat_id:
        return None
    return str(message_id), str(chat_id)


def chat_of(payload: str) -> str:
    found = key_and_chat(json.loads(payload))
    return found[1] if found else ""


class ZaloAdapter:
    """Polls Zalo, stores each event, hands it to the engine and sends the replies.

    ``getUpdates`` hands an event out once and has no acknowledgement, so each event is
    stored (one durable commit) the moment it arrives, before anything else is done with
    it; events still waiting at a start are replayed first. Events of different chats are
    handled concurrently (at most ``concurrency``), events of one chat in the order they
    arrived, as the conversation flows require (:class:`bot.services.inbox.Dispatcher`).
    """

    def __init__(self, engine: Engine, content: Content, client: ZaloClient,
                 concurrency: int = DEFAULT_CONCURRENCY, poll_seconds: int = POLL_SECONDS) -> None:
        self.engine = engine
        self.content = content
        self.client = client
        self.poll_seconds = poll_seconds
        self.inbox = Inbox(engine.db, engine.clock, CHANNEL, Dispatcher(self._process, concurrency), chat_of)

    async def start(self) -> dict[str, Any]:
        """Check the token (raises ZaloError when Zalo refuses it); returns the bot's account."""
        return await self.client.get_me()

    async def run(self, stop: asyncio.Event) -> None:
        """Replay what is waiting, then poll until ``stop`` is set. Call :meth:`stop` after."""
        await self.inbox.replay(stop)
        failures = 0
        while not stop.is_set():
            await self.inbox.dispatcher.wait_for_room(stop)
            if stop.is_set():
                break
            poll = asyncio.ensure_future(self.client.get_update(self.poll_seconds))
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({poll, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if not poll.done():  # stopping mid-poll. Zalo has no acknowledgement: an event it was
                poll.cancel()  # handing out at this very moment is lost; any later one waits for us
                with contextlib.suppress(asyncio.CancelledError, ZaloError, ZaloNetworkError):
                    await poll
                break
            try:
                event = poll.result()
                failures = 0
            except ZaloError as exc:
                if exc.code == WEBHOOK_ACTIVE:
                    log.warning("a webhook is set for this Zalo bot; deleting it to poll instead")
                    with contextlib.suppress(ZaloError, ZaloNetworkError):
                        await self.client.delete_webhook()
                    continue
                failures += 1
                log.warning("Zalo getUpdates failed (%s); retrying", exc)
                await _sleep_unless(stop, BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS)) - 1])
                continue
            except ZaloNetworkError as exc:
                failures += 1
                log.warning("Zalo getUpdates network error (%s); retrying", exc)
                await _sleep_unless(stop, BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS)) - 1])
                continue
            if event is not None:
                await self.accept(event, stop)

    async def accept(self, event: dict[str, Any], stop: asyncio.Event | None = None) -> None:
        """Store one event (durably), then hand it on; an event seen before is dropped.

        Zalo will not hand it out again, so a failed store is tried again (no further event
        is fetched meanwhile) until it succeeds or the bot stops."""
        found = key_and_chat(event)
        if found is None:
            return  # nothing to key it by, nobody to answer: not stored
        key, chat = found
        payload = json.dumps(event, separators=(",", ":"))  # ASCII escapes: lone surrogates survive
        while True:
            try:
                await self.inbox.accept([Delivered(key, chat, payload, event)])
                return
            except Exception:
                log.exception("could not store a Zalo event; trying again")
                if stop is not None and stop.is_set():
                    log.error("stopping with a Zalo event that could not be stored; it is lost")
                    return
                await asyncio.sleep(BACKOFF_SECONDS[0])

    async def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """After :meth:`run` returned: let events being handled finish within ``grace``."""
        await self.inbox.dispatcher.stop(grace)

    async def drain(self) -> None:
        """Wait for every event in hand to be handled and answered."""
        await self.inbox.dispatcher.idle()

    async def _process(self, delivered: Delivered) -> None:
        event = delivered.parsed if delivered.parsed is not None else json.loads(delivered.payload)
        inbound = to_inbound(event)
        if inbound is None:
            await self.inbox.settle(delivered.key)  # ignored (a group, a bot): nothing stays behind
            return
        await self.handle(inbound)

    async def handle(self, inbound: Inbound) -> None:
        replies: list[Reply] = []

        async def attempt() -> None:
            nonlocal replies
            replies = await self.engine.handle(inbound)

        async def give_up() -> None:
            nonlocal replies
            replies = [Reply(self.content.texts("errors.internal"))]

        await handle_with_retries(self.inbox, inbound.update_key, attempt, give_up)
        for reply in replies:
            if not await self.send(inbound.chat_id, reply):
                break

    def render(self, reply: Reply) -> str:
        text = render_plain(reply)
        if reply.options:  # no buttons on Zalo: the user types the key in brackets
            text += "\n" + plain_text(self.content.texts("zalo.choose_hint"))
        if reply.attachment is not None:  # Zalo takes files by URL only; tcns serves none
            text += "\n" + plain_text(self.content.texts("zalo.no_files"))
        return text

    async def send(self, chat_id: str, reply: Reply) -> bool:
        """Send one reply (in parts if long); retries flood limits and unsent requests."""
        for part in split_text(self.render(reply)):
            if not await self._send_part(chat_id, part):
                return False
        return True

    async def _send_part(self, chat_id: str, text: str) -> bool:
        for attempt in range(SEND_ATTEMPTS):
            try:
                await self.client.send_message(chat_id, text)
                return True
            except ZaloError as exc:
                if exc.code in BLOCKED_CODES:
                    log.info("Zalo chat %s blocked the bot; marking it unreachable", chat_id)
                    await self.engine.mark_unreachable(CHANNEL, chat_id)
                    return False
                if exc.code in RETRY_CODES:
                    wait = min(exc.retry_after or BACKOFF_SECONDS[attempt], MAX_RETRY_AFTER)
                    log.warning("Zalo flood limit for chat %s: waiting %.1fs", chat_id, wait)
                    await asyncio.sleep(wait)
                    continue
                if exc.code >= 500:
                    await asyncio.sleep(BACKOFF_SECONDS[attempt])
                    continue
                log.error("Zalo refused a reply to chat %s: %s", chat_id, exc)
                return False
            except ZaloNetworkError as exc:
                if exc.may_have_arrived:  # sending again could show the user the same reply twice
                    log.warning("Zalo reply to chat %s may not have arrived: %s", chat_id, exc)
                    return False
                await asyncio.sleep(BACKOFF_SECONDS[attempt])
        log.error("giving up on a Zalo reply to chat %s after %d attempts", chat_id, SEND_ATTEMPTS)
        return False


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
