"""``tcns serve``: one ASGI application (Starlette on uvicorn) per worker process.

    POST /webhook/telegram   Telegram's webhook (secret header, store first: bot/handlers/webhooks.py)
    POST /webhook/zalo       Zalo's webhook (the same rules)
    GET  /healthz            200 when the database answers and its schema is current, else 503
    GET  /metrics            Prometheus: updates, replies, outbox by status, latencies, live workers
    GET  /files/<token>/...  a file published with a signed, expiring URL (bot/services/files.py)

Each worker runs the one start/stop sequence of :class:`bot.runtime.serve.BotProcess` with
``poll=False`` in the application's lifespan: the same channels, engine, outbox sender and
(lease-held) scheduler as ``tcns run``. ``--workers N`` starts N such processes under
uvicorn's supervisor (which restarts one that dies), each listening on a socket of its own
(``SO_REUSEPORT``, bot/runtime/listeners.py); they share nothing but the database, so N > 1
needs PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.domain.clock import Clock
from bot.handlers import webhooks
from bot.handlers.telegram import InlineBudget
from bot.runtime import listeners
from bot.runtime.backend import latest_schema
from bot.runtime.core import Runtime, open_runtime
from bot.runtime.logs import configure_logging
from bot.runtime.serve import BotProcess
from bot.runtime.settings import Settings
from bot.services.leases import live_workers

log = logging.getLogger(__name__)

HEALTH_TIMEOUT = 3.0  # seconds the database gets to answer /healthz
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
NOT_FOUND = Response(status_code=404)


class _Figures:
    """The figures read from the database at a scrape, as Prometheus metric families."""

    def __init__(self, outbox: dict[str, int], workers: int) -> None:
        self.outbox, self.workers = outbox, workers

    def collect(self) -> Any:
        by_status = GaugeMetricFamily("tcns_outbox_messages", "Outbox rows by status", labels=["status"])
        for status, count in sorted(self.outbox.items()):
            by_status.add_metric([status], count)
        yield by_status
        yield GaugeMetricFamily("tcns_workers_live", "Worker processes holding a live lease", value=self.workers)


def _registry() -> CollectorRegistry:
    if os.environ.get(MULTIPROC_ENV):  # several workers: every worker's values, merged
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


async def healthz(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    try:
        version = await asyncio.wait_for(runtime.db.schema_version(), HEALTH_TIMEOUT)
    except Exception as exc:  # unreachable, timed out, refused: all mean "not healthy"
        log.warning("health check: database unreachable (%s)", exc)
        return JSONResponse({"ok": False, "database": "unreachable"}, status_code=503)
    expected = latest_schema(runtime.settings.db)
    if version < expected:
        return JSONResponse({"ok": False, "schema": version, "expected": expected}, status_code=503)
    return JSONResponse({"ok": True, "schema": version})


async def metrics(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    outbox = await runtime.db.run(lambda uow: uow.outbox.counts())
    figures = CollectorRegistry(auto_describe=False)
    figures.register(_Figures(outbox, await live_workers(runtime.db)))  # type: ignore[arg-type]
    body = generate_latest(_registry()) + generate_latest(figures)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


async def file(request: Request) -> Response:
    files = request.app.state.runtime.files
    if files is None:
        return NOT_FOUND
    stored = await files.open(request.path_params["token"])
    if stored is None:  # forged, expired or pruned: all the same to the asker
        return NOT_FOUND
    return Response(stored.data, media_type=stored.mime, headers={
        "Content-Disposition": f"inline; filename*=UTF-8''{_quoted(stored.name)}",
        "Cache-Control": "private, max-age=60",
    })


def _quoted(name: str) -> str:
    from urllib.parse import quote

    return quote(name)


_EMPTY = [(b"content-length", b"0")]
_SECRET_HEADERS = {webhooks.TELEGRAM_PATH: (b"x-telegram-bot-api-secret-token", "telegram"),
                   webhooks.ZALO_PATH: (b"x-bot-api-secret-token", "zalo")}


class _App(Starlette):
    """Starlette, with the webhooks' POSTs answered before its middleware and routing: each is
    a secret header, a body and a status (``TelegramWebhook.handle``); the request and response
    objects, the middleware stack and the route table cost as much CPU per update as the store
    itself. Everything else (and a webhook of a channel without a token: 404) is Starlette's."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path, root = scope["path"], scope.get("root_path", "")
            found = _SECRET_HEADERS.get(path[len(root):] if root and path.startswith(root) else path)
            hook = found and getattr(self.state, found[1], None)
            if found and hook is not None:
                await _webhook(hook, found[0], scope, receive, send)
                return
        await super().__call__(scope, receive, send)


async def _webhook(hook: Any, header: bytes, scope: Any, receive: Any, send: Any) -> None:
    secret = next((value.decode("latin-1") for name, value in scope["headers"] if name == header), None)
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return  # gone before its body arrived: nothing stored, nobody to answer
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    try:
        status, body = await hook.handle(secret, b"".join(chunks))
    except Exception:
        log.exception("error in a webhook")
        status, body = 500, None
    if body is None:
        await send({"type": "http.response.start", "status": status, "headers": _EMPTY})
        await send({"type": "http.response.body", "body": b""})
        return
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def no_webhook(request: Request) -> Response:
    return NOT_FOUND  # the channel has no token here (a configured one is answered by _App)


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> Starlette:
    """The application of one worker; its lifespan opens the runtime and starts the bot."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal settings
        settings = settings or Settings()
        async with await open_runtime(settings, clock) as runtime:
            process = BotProcess(runtime)
            await process.start(poll=False)
            app.state.runtime, app.state.process = runtime, process
            stop = process.stopping
            if process.telegram is not None:
                adapter = process.telegram.adapter
                adapter.inline_off = settings.telegram_inline_rate == 0
                adapter.inline = InlineBudget(settings.telegram_inline_rate) if settings.telegram_rate_limit else None
            app.state.telegram = None if process.telegram is None else webhooks.TelegramWebhook(
                process.telegram.adapter, settings.telegram_webhook_secret, stop, settings.webhook_gather_ms / 1000)
            app.state.zalo = None if process.zalo is None else webhooks.ZaloWebhook(
                process.zalo, settings.zalo_webhook_token, stop)
            log.info("worker %d serving webhooks", os.getpid())
            try:
                yield
            finally:
                await process.stop()

    routes = [
        Route(webhooks.TELEGRAM_PATH, no_webhook, methods=["POST"]),
        Route(webhooks.ZALO_PATH, no_webhook, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/files/{token}", file, methods=["GET"]),
        Route("/files/{token}/{name:path}", file, methods=["GET"]),
    ]
    return _App(routes=routes, lifespan=lifespan)


def worker_app() -> Starlette:
    """uvicorn's factory in each worker process: settings from the environment, logs set up."""
    settings = Settings()
    configure_logging(settings.log_format)
    return create_app(settings)


def run_server(host: str, port: int, workers: int) -> None:
    """Serve until SIGTERM/Ctrl-C (uvicorn's handlers: a graceful stop of every worker). Several
    workers run under uvicorn's supervisor (it restarts one that dies), each on a listening socket
    of its own (bot/runtime/listeners.py: the kernel spreads the connections over them).
    :class:`~bot.runtime.listeners.PortTaken` when something listens on the address already."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    options: dict[str, Any] = dict(factory=True, host=host, port=port, workers=workers, log_config=None,
                                   access_log=False, lifespan="on", timeout_graceful_shutdown=10)
    if workers == 1:
        if port:
            listeners.free_port(host, port)  # said in Vietnamese by the command, not logged by uvicorn
        uvicorn.run("bot.runtime.web:worker_app", **options)
        return
    config = uvicorn.Config("bot.runtime.web:worker_app", **options)
    reserved = listeners.reserve(host, port)  # held until the last worker has stopped
    port = reserved.getsockname()[1]  # the one picked, when 0
    log.info("listening on %s:%d with %d workers, each on a socket of its own", host, port, workers)
    try:
        Multiprocess(config, sockets=listeners.WorkerSockets(host, port)).run()
    finally:
        reserved.close()
