"""PTB's requests to the Bot API over aiohttp (a :class:`telegram.request.BaseRequest`, PTB's
documented point for another HTTP library).

PTB's own ``HTTPXRequest`` cost 4 to 6 ms of CPU per ``sendMessage`` here (httpx, httpcore's
pool bookkeeping over every connection at each step, anyio), aiohttp under 1 ms: every text
report is answered with one message, so that was half of ``tcns serve``'s CPU per report
(``bench/webhook.py``). The parameters go as a JSON body (the Bot API takes
``application/json``; a url-encoded form costs more CPU to build), or as multipart with
files, with PTB's default timeouts, and fail as PTB's do: :class:`~telegram.error.TimedOut`
or :class:`~telegram.error.NetworkError`, raised from the transport's exception, which
:func:`never_sent` reads (the outbox must not send again what may have arrived).

``getUpdates`` keeps PTB's ``HTTPXRequest`` (one long poll at a time: cost does not matter
there, and it keeps the raw updates, see ``bot.handlers.telegram.UpdatesRequest``).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import aiohttp
import httpx
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

POOL_SIZE = 256  # PTB's default for the bot's requests: replies to that many chats in flight at once
CONNECT_TIMEOUT = READ_TIMEOUT = WRITE_TIMEOUT = 5.0  # PTB's HTTPXRequest defaults, in seconds
POOL_TIMEOUT = 1.0
MEDIA_WRITE_TIMEOUT = 20.0

# Failures before a byte of the request left: a connection refused or never opened in time
# (aiohttp's connect timeout covers the wait for a free connection of the pool, too).
_NOT_SENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError,
             httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_TRANSPORT = (aiohttp.ClientError, TimeoutError, httpx.TransportError)


def transport_failed(cause: BaseException | None) -> bool:
    """The error of a request is its transport's (not an answer of the Bot API)."""
    return isinstance(cause, _TRANSPORT)


def never_sent(cause: BaseException | None) -> bool:
    """A transport failure that happened before the request left (safe to send again)."""
    return isinstance(cause, _NOT_SENT)


_JSON_HEADERS = {"Content-Type": "application/json"}
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _json_body(parameters: dict[str, Any]) -> bytes:
    """The request's parameters as a JSON object (the Bot API takes ``application/json``):
    ints and objects as themselves, a string (a ``reply_markup`` already in JSON too) as a string."""
    return _ENCODE(parameters).encode()


def _total(*parts: float | None) -> float | None:
    return None if any(p is None for p in parts) else sum(p for p in parts if p is not None)


@lru_cache(maxsize=64)
def _timeout(pool: float | None, connect: float | None, write: float | None,
             read: float | None) -> aiohttp.ClientTimeout:
    """aiohttp's timeouts for PTB's four (made once per combination: every request uses the defaults)."""
    return aiohttp.ClientTimeout(
        total=_total(pool, connect, write, read),
        connect=_total(pool, connect),  # a free connection, then a new one open
        sock_connect=connect,
        sock_read=read,
    )


class AiohttpRequest(BaseRequest):
    """The bot's requests (everything but ``getUpdates``) on one aiohttp session."""

    __slots__ = ("_connect", "_pool", "_pool_size", "_read", "_session", "_write")

    def __init__(self, connection_pool_size: int = POOL_SIZE, read_timeout: float | None = READ_TIMEOUT,
                 write_timeout: float | None = WRITE_TIMEOUT, connect_timeout: float | None = CONNECT_TIMEOUT,
                 pool_timeout: float | None = POOL_TIMEOUT) -> None:
        self._pool_size = connection_pool_size
        self._read, self._write, self._connect, self._pool = read_timeout, write_timeout, connect_timeout, pool_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            # No cookie jar: the Bot API sets none, and a jar is looked through at every request.
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self._pool_size),
                                                  headers={"User-Agent": self.USER_AGENT},
                                                  cookie_jar=aiohttp.DummyCookieJar())

    async def shutdown(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: float | object | None = BaseRequest.DEFAULT_NONE,
        write_timeout: float | object | None = BaseRequest.DEFAULT_NONE,
        connect_timeout: float | object | None = BaseRequest.DEFAULT_NONE,
        pool_timeout: float | object | None = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        data: aiohttp.FormData | bytes | None = None
        headers = None
        if request_data is not None and not files:  # a JSON body: no form encoding of every field
            data, headers = _json_body(request_data.parameters), _JSON_HEADERS
        elif request_data is not None:
            form = aiohttp.FormData()
            for name, value in request_data.json_parameters.items():
                form.add_field(name, value)
            for name, upload in files.items():
                if isinstance(upload, tuple):
                    filename, content, *mime = upload
                    form.add_field(name, content, filename=filename, content_type=mime[0] if mime else None)
                else:
                    form.add_field(name, upload)
            data = form
        read = self._read if read_timeout is BaseRequest.DEFAULT_NONE else read_timeout
        connect = self._connect if connect_timeout is BaseRequest.DEFAULT_NONE else connect_timeout
        pool = self._pool if pool_timeout is BaseRequest.DEFAULT_NONE else pool_timeout
        write = (MEDIA_WRITE_TIMEOUT if files else self._write) if write_timeout is BaseRequest.DEFAULT_NONE \
            else write_timeout
        timeout = _timeout(pool, connect, write, read)  # type: ignore[arg-type]
        try:
            async with self._session.request(method, url, data=data, headers=headers, timeout=timeout) as answer:
                return answer.status, await answer.read()
        except TimeoutError as exc:  # aiohttp's timeouts are TimeoutErrors too
            raise TimedOut(f"aiohttp.{type(exc).__name__}: {exc}") from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc
