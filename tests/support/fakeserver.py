"""What the fake chat APIs (``fakebotapi``, ``fakezaloapi``) share: an aiohttp server on
127.0.0.1 with an ephemeral port, a stop that releases every waiter at once, and
``wait_until`` woken by every change of the server's state."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, NamedTuple, Self, TypeVar

from aiohttp import web

_T = TypeVar("_T")


class Call(NamedTuple):
    """One request received by the server (recorded even when it was answered with an error)."""

    method: str
    params: dict[str, Any]


class Notifier:
    """Wakes every waiter whenever the server's state changes (no lost wake-ups on one loop)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)


class FakeServer:
    """Lifecycle of a fake: ``async with Fake() as server``; subclasses add their routes.

    A subclass records requests in ``calls`` (items with a ``method``) and error answers in
    ``errors``, calls ``self._changed.notify()`` whenever its state changes, and ends its
    long polls when ``self._stopping`` is set.
    """

    client_max_size = 1024 * 1024

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.calls: list[Call] = []
        self.errors: list[Any] = []
        self._changed = Notifier()
        self._stopping = False
        self._runner: web.AppRunner | None = None

    def add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> Self:
        """Start listening; sets :attr:`port`."""
        app = web.Application(client_max_size=self.client_max_size)
        self.add_routes(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        """Release pending long polls at once and shut the server down. Idempotent."""
        self._stopping = True
        self._changed.notify()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/bot``; a client appends ``{token}/{method}``."""
        return f"http://{self.host}:{self.port}/bot"

    async def wait_until(self, predicate: Callable[[], _T], timeout: float = 5.0, what: str = "condition") -> _T:
        """Wait until ``predicate()`` is truthy (re-checked on every change); return its value.

        Raises ``AssertionError`` after ``timeout`` seconds, listing the recent calls and errors.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (result := predicate()):
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = ", ".join(call.method for call in self.calls[-15:])
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what}; recent calls: [{recent}]; "
                    f"errors: {self.errors[-5:]}"
                )
            await self._changed.wait(remaining)
        return result
