"""Zalo adapter on the Zalo Bot API: polling or a webhook in, the engine decides, plain text out.

Written from the Zalo Bot Platform documentation (bot-api.zaloplatforms.com; the method pages
and "Bảng mã lỗi"): ``{base}/bot<TOKEN>/<method>`` with case-sensitive method names, answered
``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N, "description": ...}``.

* ``getUpdates`` (POST, ``timeout`` in seconds as a string) returns ONE event, the shape a
  webhook delivers, with no offset and no acknowledgement; 408 means "nothing arrived"; it
  does not work while a webhook is set. The event's ``message.message_id`` (a hex string) is
  the de-duplication key (``processed_updates``); ``date`` is in milliseconds.
* A webhook delivery is ``{"ok": true, "result": event}`` in the documentation, the bare
  event in the wild: :meth:`ZaloAdapter.receive` takes both (it is the webhook's entry).
* Events: text; an image (its ``photo`` URL is never stored or fetched, its ``caption`` is
  read as a typed message); a sticker (the "text only" answer);
  ``message.unsupported.received``, sent instead of the content when the sender is in a
  protected group (children, people with disabilities, people who cannot read): answered
  politely once; only its id is stored (so that a redelivery is not answered again).
* Errors: 401 the token is refused (stop, tell the operator); 403 "Internal server error" is a
  server error, tried again with backoff (never a sign the user left); 429 "Quota exceeded":
  the bot's quota is spent, pushing stops (:mod:`bot.services.quota`), nothing is retried in
  a loop.
* Text only, 1-2,000 characters per message: no buttons, so options are rendered
  ``[key] label`` (:func:`bot.handlers.plain.render_plain`) and answered by typing the key;
  a chart goes by URL (``sendPhoto``) when a public file URL can be made, else a clear line.
* Only private chats are served (in groups the bot sees only replies and mentions).

No conversation state lives here: the engine keeps it in storage. Tests run against
``tests/support/fakezaloapi.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from bot.content import Content
from bot.domain.messages import Inbound, Reply, plain_text
from bot.flows.engine import Engine
from bot.handlers.plain import render_plain
from bot.handlers.plain import split_text as split_plain
from bot.services import metrics
from bot.services.inbox import Delivered, Dispatcher, Inbox, handle_with_retries
from bot.services.quota import Quotas

log = logging.getLogger(__name__)

CHANNEL = "zalo"
DEFAULT_BASE_URL = "https://bot-api.zaloplatforms.com/bot"
POLL_SECONDS = 30  # long-poll window of one getUpdates call
MAX_TEXT = 2000  # characters of one sendMessage; longer replies go out in parts, split at lines
TOKEN_REFUSED = 401  # the token is invalid or expired: stop and tell the operator
SERVER_ERROR = 403  # "Internal server error" by the documentation: try again later
NOTHING_NEW = 408  # getUpdates: the window passed without an event
QUOTA_EXCEEDED = 429  # "Quota exceeded": the bot's quota is spent until it resets
SECRET_HEADER = "X-Bot-Api-Secret-Token"
SEND_ATTEMPTS = 4
BACKOFF_SECONDS = (0.5, 1.0, 2.0, 4.0)
DEFAULT_CONCURRENCY = 32
STOP_GRACE_SECONDS = 6.0  # events being handled at a stop get this long (docker stop waits 10 s)
TEXT_EVENT = "message.text.received"
IMAGE_EVENT = "message.image.received"
STICKER_EVENT = "message.sticker.received"
UNSUPPORTED_EVENT = "message.unsupported.received"
# Transport errors raised before a byte of the request was sent: safe to send again.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# What an event may carry that is never stored: the image itself (a URL to a photo that may
# show a resident's papers) and the sticker.
NEVER_STORED = ("photo", "photo_url", "sticker", "url")


class ZaloError(Exception):
    """Zalo answered ``ok: false`` (or an HTTP error with no usable body)."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description

    @property
    def retryable(self) -> bool:
        """A server error (403 "Internal server error", 5xx): the same request may go through later."""
        return self.code == SERVER_ERROR or self.code >= 500


class ZaloNetworkError(Exception):
    """The request failed in transport; ``may_have_arrived`` if it could have reached Zalo."""

    def __init__(self, cause: httpx.TransportError) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.may_have_arrived = not isinstance(cause, NOT_SENT)


class ZaloClient:
    """The few Bot API calls tcns makes, over one pooled httpx client (method names as documented)."""

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
        raise ZaloError(int(body.get("error_code") or response.status_code), str(body.get("description") or ""))

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

    async def webhook_url(self) -> str:
        """The webhook set for this bot ("" when none)."""
        try:
            info = await self.call("getWebhookInfo")
        except ZaloError as exc:
            if exc.code == 404:
                return ""
            raise
        return str((info or {}).get("url") or "") if isinstance(info, dict) else ""

    async def set_webhook(self, url: str, secret_token: str) -> None:
        await self.call("setWebhook", {"url": url, "secret_token": secret_token})

    async def delete_webhook(self) -> None:
        await self.call("deleteWebhook")

    async def send_message(self, chat_id: str, text: str) -> None:
        await self.call("sendMessage", {"chat_id": chat_id, "text": text})

    async def send_photo(self, chat_id: str, photo_url: str, caption: str | None = None) -> None:
        params = {"chat_id": chat_id, "photo": photo_url}
        if caption:
            params["caption"] = caption
        await self.call("sendPhoto", params)


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """``text`` in parts of at most ``limit`` characters, cut at line ends where possible."""
    return split_plain(text, limit)


def secret_matches(expected: str, header: str | None) -> bool:
    """A webhook delivery's ``X-Bot-Api-Secret-Token`` against ours, in constant time."""
    return bool(expected) and header is not None and hmac.compare_digest(expected.encode(), header.encode())


def event_of(body: Any) -> dict[str, Any] | None:
    """The event in a webhook body or a ``getUpdates`` result: ``{"ok": true, "result": event}``
    (the documented shape) or the bare event (what clients in the wild also receive); None if
    the body is neither."""
    if isinstance(body, dict) and "event_name" not in body and isinstance(body.get("result"), dict):
        body = body["result"]
    if isinstance(body, dict) and isinstance(body.get("event_name"), str) and isinstance(body.get("message"), dict):
        return body
    return None


def stored_form(event: dict[str, Any]) -> dict[str, Any]:
    """The event as it may be stored: without the photo (its URL) or the sticker."""
    message = {k: v for k, v in event["message"].items() if k not in NEVER_STORED}
    return {**event, "message": message}


def to_inbound(event: dict[str, Any]) -> Inbound | None:
    """The channel-free view of an event; None for events the bot ignores (groups, bots,
    malformed) and for a protected sender's (see :func:`is_protected`)."""
    message = event.get("message")
    if not isinstance(message, dict) or is_protected(event):
        return None
    sender, chat = message.get("from") or {}, message.get("chat") or {}
    message_id, user_id, chat_id = message.get("message_id"), sender.get("id"), chat.get("id")
    if not message_id or not user_id or not chat_id or sender.get("is_bot"):
        return None
    if str(chat.get("chat_type", "PRIVATE")).upper() != "PRIVATE":
        return None
    name = event.get("event_name")
    text = message.get("text") if name == TEXT_EVENT else message.get("caption") if name == IMAGE_EVENT else None
    # A caption is read as a typed line (the engine then says the photo was not kept); stickers
    # and images without a caption get the engine's "text only" answer.
    return Inbound(channel=CHANNEL, update_key=str(message_id), user_id=str(user_id), chat_id=str(chat_id),
                   display_name=sender.get("display_name") or sender.get("name") or None,
                   text=text if isinstance(text, str) else "", media=name == IMAGE_EVENT)


def is_protected(event: dict[str, Any]) -> bool:
    """Zalo sent this instead of the content: the sender belongs to a protected group."""
    return event.get("event_name") == UNSUPPORTED_EVENT


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


# Told when Zalo refuses to send: (code, description). The runtime pauses pushing on a 429
# (quota spent) or a 401 (token refused); see bot.services.quota.
Refused = Callable[[int, str], Awaitable[None]]
# A public, short-lived URL for a file a reply carries (None: there is no public file host).
FileUrl = Callable[[bytes, str, str], Awaitable[str | None]]


class ZaloAdapter:
    """Polls Zalo (or takes webhook deliveries), stores each event, hands it to the engine and
    sends the replies.

    ``getUpdates`` hands an event out once and has no acknowledgement, so each event is
    stored (one durable commit) the moment it arrives, before anything else is done with
    it; events still waiting at a start are replayed first. Events of different chats are
    handled concurrently (at most ``concurrency``), events of one chat in the order they
    arrived, as the conversation flows require (:class:`bot.services.inbox.Dispatcher`).
    """

    def __init__(self, engine: Engine, content: Content, client: ZaloClient,
                 concurrency: int = DEFAULT_CONCURRENCY, poll_seconds: int = POLL_SECONDS,
                 on_refused: Refused | None = None, file_url: FileUrl | None = None) -> None:
        self.engine = engine
        self.content = content
        self.client = client
        self.poll_seconds = poll_seconds
        self.on_refused = on_refused
        self.file_url = file_url
        self.token_refused = False
        self.inbox = Inbox(engine.db, engine.clock, CHANNEL, Dispatcher(self._process, concurrency), chat_of)
        self._answers: set[asyncio.Task[None]] = set()
        self._quotas = Quotas(engine.tz)
        self._uncounted = 0  # replies sent and not yet counted against the quota

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
                if exc.code == TOKEN_REFUSED:
                    await self._refused(exc)
                    log.error("Zalo refused the token (%s): polling stops; fix ZALO_BOT_TOKEN and restart", exc)
                    return
                if not exc.retryable and await self._webhook_in_the_way():
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
            found = event_of(event)
            if found is not None:
                await self.accept(found, stop)

    async def _webhook_in_the_way(self) -> bool:
        """getUpdates does not work while a webhook is set: polling is for development, so a
        webhook left set is deleted. True if one was."""
        with contextlib.suppress(ZaloError, ZaloNetworkError):
            if await self.client.webhook_url():
                log.warning("a webhook is set for this Zalo bot; deleting it to poll instead")
                await self.client.delete_webhook()
                return True
        return False

    async def receive(self, body: Any) -> bool:
        """THE WEBHOOK'S ENTRY: one delivery's JSON body, in either shape (``{"ok": true,
        "result": event}`` or the bare event), turned into the adapter's event handling.

        The route (``tcns serve``, ``/webhook/zalo``) checks the secret first
        (:func:`secret_matches` on ``X-Bot-Api-Secret-Token``: 403 and nothing stored on a
        mismatch), then awaits this and answers 200 once it returns: the event is durably
        stored by then (store first), and handled in the background. Returns False for a body
        that is no event (nothing stored; answer 200 all the same, Zalo has nothing better to
        send). A protected sender's event is answered; only its id is stored. Raises if the event
        could not be stored: answer 500, so that Zalo may deliver it again.
        """
        event = event_of(body)
        if event is None:
            log.info("a Zalo webhook body that is no event was ignored")
            return False
        return await self._store(event, retry=False)

    async def accept(self, event: dict[str, Any], stop: asyncio.Event | None = None) -> None:
        """Store one polled event (durably), then hand it on; an event seen before is dropped.

        Zalo will not hand it out again, so a failed store is tried again (no further event
        is fetched meanwhile) until it succeeds or the bot stops."""
        await self._store(event, retry=True, stop=stop)

    async def _store(self, event: dict[str, Any], retry: bool, stop: asyncio.Event | None = None) -> bool:
        found = key_and_chat(event)
        if found is None:
            return False  # nothing to key it by, nobody to answer: not stored
        key, chat = found
        protected = is_protected(event)
        stored = stored_form(event)
        payload = json.dumps(stored, separators=(",", ":"))  # ASCII escapes: lone surrogates survive
        while True:
            try:
                if protected:  # only its id, as every handled event leaves: a redelivery is not answered again
                    if await self._mark_seen(key):
                        self._answer_protected(chat, event)
                    return True
                await self.inbox.accept([Delivered(key, chat, payload, stored)])
                return True
            except Exception:
                if not retry:
                    raise
                log.exception("could not store a Zalo event; trying again")
                if stop is not None and stop.is_set():
                    log.error("stopping with a Zalo event that could not be stored; it is lost")
                    return False
                await asyncio.sleep(BACKOFF_SECONDS[0])

    async def _mark_seen(self, key: str) -> bool:
        """Record an event id as handled, with nothing else of the event (durably); False if it
        was already (a redelivery)."""
        now = self.engine.clock.now()
        fresh = await self.engine.db.run(lambda uow: uow.inbox.claim(CHANNEL, key, now), durable=True)
        metrics.UPDATES.labels(CHANNEL, "new" if fresh else "redelivered").inc()
        return fresh

    def _answer_protected(self, chat: str, event: dict[str, Any]) -> None:
        """A protected sender: the bot cannot read the message; say so and who to ask. Only the
        event's id was stored (:meth:`_mark_seen`), no content and nothing of the sender."""
        chat_type = str(((event.get("message") or {}).get("chat") or {}).get("chat_type", "PRIVATE")).upper()
        if chat_type != "PRIVATE":
            return
        async def answer() -> None:
            await self.send(chat, Reply(self.content.texts("zalo.protected")))
            await self.count_replies()

        task = asyncio.ensure_future(answer())
        self._answers.add(task)
        task.add_done_callback(self._answers.discard)

    async def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """After :meth:`run` returned: let events being handled finish within ``grace``."""
        await self.inbox.dispatcher.stop(grace)
        if self._answers:
            await asyncio.wait(set(self._answers), timeout=grace)

    async def drain(self) -> None:
        """Wait for every event in hand to be handled and answered."""
        await self.inbox.dispatcher.idle()
        while self._answers:
            await asyncio.wait(set(self._answers))

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
        await self.count_replies()

    async def count_replies(self) -> None:
        """Count the replies sent since the last count against the month's quota (Zalo counts a
        bot's answers as well as its pushes): one write for whatever went out meanwhile."""
        count, self._uncounted = self._uncounted, 0
        if not count:
            return
        try:
            await self._quotas.replied(self.engine.db, CHANNEL, self.engine.clock.now(), count)
        except Exception:
            self._uncounted += count  # counted with the next ones
            log.exception("could not count %d Zalo replies against the quota", count)

    def render(self, reply: Reply, file_link: str | None = None) -> str:
        text = render_plain(reply)
        if reply.options:  # no buttons on Zalo: the user types the key in brackets
            text += "\n" + plain_text(self.content.texts("zalo.choose_hint"))
        if file_link is not None:
            text += "\n" + plain_text(self.content.texts("zalo.file_link", url=file_link))
        elif reply.attachment is not None:  # Zalo takes files by URL only, and none could be made
            text += "\n" + plain_text(self.content.texts("zalo.no_files"))
        return text

    async def public_url(self, reply: Reply) -> str | None:
        """A short-lived public URL for the reply's file (built already), or None."""
        attachment = reply.attachment
        if attachment is None or self.file_url is None or not hasattr(attachment, "data"):
            return None
        try:
            return await self.file_url(attachment.data, attachment.filename, attachment.mime_type)
        except Exception:
            log.exception("could not publish a file for Zalo")
            return None

    async def send(self, chat_id: str, reply: Reply) -> bool:
        """Send one reply (in parts if long; a chart by URL when it can be published); retries
        server errors and unsent requests."""
        url = await self.public_url(reply)
        if url is not None and reply.attachment is not None and reply.attachment.kind == "photo":
            caption = plain_text(reply.text)
            if len(caption) <= MAX_TEXT and not reply.options:
                return await self._send_part(chat_id, caption, photo=url)
            if not await self._send_part(chat_id, "", photo=url):
                return False
            url = None
            reply = Reply(reply.text, reply.options)
        for part in split_text(self.render(reply, url)):
            if not await self._send_part(chat_id, part):
                return False
        return True

    async def _send_part(self, chat_id: str, text: str, photo: str | None = None) -> bool:
        for attempt in range(SEND_ATTEMPTS):
            try:
                if photo is not None:
                    await self.client.send_photo(chat_id, photo, text or None)
                else:
                    await self.client.send_message(chat_id, text)
                self._uncounted += 1
                metrics.REPLIES.labels(CHANNEL).inc()
                return True
            except ZaloError as exc:
                if exc.retryable:  # 403 "Internal server error", 5xx: says nothing about the user
                    log.warning("Zalo server error for chat %s (%s); trying again", chat_id, exc)
                    await asyncio.sleep(BACKOFF_SECONDS[attempt])
                    continue
                if exc.code in (QUOTA_EXCEEDED, TOKEN_REFUSED):
                    await self._refused(exc)
                log.error("Zalo refused a reply to chat %s: %s", chat_id, exc)
                return False
            except ZaloNetworkError as exc:
                if exc.may_have_arrived:  # sending again could show the user the same reply twice
                    log.warning("Zalo reply to chat %s may not have arrived: %s", chat_id, exc)
                    return False
                await asyncio.sleep(BACKOFF_SECONDS[attempt])
        log.error("giving up on a Zalo reply to chat %s after %d attempts", chat_id, SEND_ATTEMPTS)
        return False

    async def _refused(self, exc: ZaloError) -> None:
        if exc.code == TOKEN_REFUSED:
            self.token_refused = True
        if self.on_refused is not None:
            try:
                await self.on_refused(exc.code, exc.description)
            except Exception:
                log.exception("could not record Zalo's refusal")


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
