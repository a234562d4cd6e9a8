"""``tcns serve``: webhooks, /healthz, /metrics and signed file URLs, on N worker processes."""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile

from bot.cli.common import Handler, say
from bot.content import load_content
from bot.runtime.backend import is_postgres
from bot.runtime.settings import Settings


def register(sub: argparse._SubParsersAction) -> dict[str, Handler]:  # type: ignore[type-arg]
    parser = sub.add_parser("serve", help="serve the channels' webhooks (and /healthz, /metrics, file URLs)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (more than 1: PostgreSQL only)")
    return {"serve": serve}


def serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot.runtime.listeners import PortTaken
    from bot.runtime.web import MULTIPROC_ENV, run_server  # Starlette, uvicorn: only for this command

    texts = load_content(settings.content_dir).texts
    if args.workers < 1:
        say(texts, "serve_cli.bad_workers", err=True)
        return 2
    if args.workers > 1 and not is_postgres(settings.db):
        say(texts, "serve_cli.sqlite_workers", err=True, workers=args.workers)
        return 2
    if not (settings.telegram_bot_token or settings.zalo_bot_token):
        say(texts, "admin_cli.no_token", err=True)
        return 2
    for token, secret, name, channel in (  # Zalo's is generated from its token when not set
        (settings.telegram_bot_token, settings.telegram_webhook_secret, "TELEGRAM_WEBHOOK_SECRET", "Telegram"),
    ):
        if token and not secret:
            say(texts, "serve_cli.no_secret", err=True, setting=name, channel=channel)
            return 2
    if not settings.public_url:
        say(texts, "serve_cli.no_public_url", err=True)
    folder = None
    if args.workers > 1 and not os.environ.get(MULTIPROC_ENV):  # /metrics merges every worker's values
        folder = tempfile.mkdtemp(prefix="tcns-metrics-")
        os.environ[MULTIPROC_ENV] = folder
    try:
        run_server(args.host, args.port, args.workers)
    except PortTaken:
        say(texts, "serve_cli.port_taken", err=True, host=args.host, port=args.port)
        return 2
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0
