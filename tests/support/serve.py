"""``tcns serve``'s ASGI application on a real uvicorn server, on the test's event loop.

    async with Served(settings, clock) as served:
        await served.http.post("/webhook/telegram", json=update, headers=...)

``served.app.state.runtime`` and ``served.app.state.process`` are the worker's runtime and
BotProcess (the same objects the webhook endpoints feed).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import httpx
import uvicorn

from bot.domain.clock import Clock
from bot.runtime.settings import Settings
from bot.runtime.web import create_app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    def __init__(self, settings: Settings, clock: Clock | None = None, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(settings, clock)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, lifespan="on",
                                                    log_config=None, access_log=False))
        self.server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]  # pytest keeps Ctrl-C
        self._task: asyncio.Task[Any] | None = None
        self.http = httpx.AsyncClient(base_url=self.url, timeout=10)

    async def post_telegram(self, api: Any, update: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
        """POST ``update`` to the Telegram webhook as Telegram does, and do what Telegram does
        with the answer: a Bot API call in its body is made at ``api`` (the fake Bot API)."""
        answer = await self.http.post("/webhook/telegram", json=update, headers=headers)
        if answer.status_code == 200:
            await api.webhook_answer(answer.content, answer.headers.get("content-type"))
        return answer

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime

    async def __aenter__(self) -> Served:
        self._task = asyncio.create_task(self.server.serve())
        async with asyncio.timeout(20):
            while not self.server.started:
                if self._task.done():
                    self._task.result()  # raises what stopped it
                    raise RuntimeError("uvicorn stopped before it started")
                await asyncio.sleep(0.02)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()
        self.server.should_exit = True
        if self._task is not None:
            await asyncio.wait_for(self._task, 30)
