"""Fan-out benchmark: 10,000 recipients with a due reminder, sent through the production
planner, outbox and sender (rate limiter at --rate msgs/s) to the local fake Bot API
server (tests/support/fakebotapi.py), by a sender in its own process. Three scenarios:

* **straight**: one process drains the outbox;
* **SIGTERM halfway**: the process is stopped the way ``kill``, systemd and ``docker stop``
  do it, halfway, then started again. It claims nothing more, settles the deliveries in
  flight and exits; the new process sends the rest. Goal: 0 duplicates, 0 lost, 0 uncertain;
* **SIGKILL halfway**: a hard crash, then a restart. The rows in delivery at the kill (at
  most ``--concurrency``) are ambiguous and left ``uncertain``, never resent (at most
  once, see bot/outbox.py): 0 duplicates, lost at most the uncertain rows.

Prints messages/s achieved against the configured limit (goal: at least 95%),
duplicates (goal: 0), lost messages (goal: 0) and rows left ``uncertain``.

    .venv/bin/python bench/fanout.py [--recipients 10000] [--rate 300]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # tests/ holds support.fakebotapi

from bot.content import load_content  # noqa: E402
from bot.domain.clock import FixedClock  # noqa: E402
from bot.domain.deadlines import Planner  # noqa: E402
from bot.services.reminders import scheduling_pass  # noqa: E402
from storage.sqlite.database import SqliteDatabase  # noqa: E402 - the bench seeds SQLite directly

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
TOKEN = "123:BENCH"
PLAN_AT = datetime(2026, 11, 17, 8, 0, tzinfo=TZ)  # T−3 of the November monthly report
FIRST_ID = 10_000_000


async def seed(path: str, recipients: int) -> int:
    """A commune with 100 villages and ``recipients`` members on Telegram; plan the T−3 step."""
    content = load_content()
    db = await SqliteDatabase(path).open()
    try:
        stamp = "2026-11-01T00:00:00+00:00"
        conn = db.conn
        await conn.execute("INSERT INTO units (id, kind, code, name) VALUES (1, 'province', 'P', 'Tỉnh')")
        await conn.execute("INSERT INTO units (id, kind, parent_id, code, name) VALUES (2, 'commune', 1, 'XA', 'Xã')")
        villages = 100
        await conn.executemany("INSERT INTO units (id, kind, parent_id, code, name) VALUES (?, 'village', 2, ?, ?)",
                               [(10 + v, f"T{v}", f"Thôn {v}") for v in range(villages)])
        await conn.executemany(
            "INSERT INTO members (id, name, role, unit_id, created_at) VALUES (?, ?, 'member', ?, ?)",
            [(i + 1, f"TV {i}", 10 + i % villages, stamp) for i in range(recipients)])
        await conn.executemany(
            "INSERT INTO identities (member_id, channel, external_id, chat_id, created_at) "
            "VALUES (?, 'telegram', ?, ?, ?)",
            [(i + 1, str(FIRST_ID + i), str(FIRST_ID + i), stamp) for i in range(recipients)])
        await conn.commit()
        result = await scheduling_pass(db, content, TZ, PLAN_AT)
        return result.added
    finally:
        await db.close()


async def child(args: argparse.Namespace) -> None:
    """One sender process: drain the outbox to the fake server, print what it did.

    SIGTERM stops it gracefully, as in ``tcns run``: nothing more is claimed, the deliveries
    in flight are settled, and the process reports and exits.
    """
    from telegram import Bot
    from telegram.request import HTTPXRequest

    from bot.handlers.telegram_outbox import telegram_delivery
    from bot.runtime.serve import stop_on_signals
    from bot.services.outbox import OutboxSender

    content = load_content()
    planner = Planner(content.deadlines, TZ)
    db = await SqliteDatabase(args.db).open()
    clock = FixedClock(datetime.fromisoformat(args.now))
    request = HTTPXRequest(connection_pool_size=args.concurrency + 2)
    bot = Bot(TOKEN, base_url=args.base_url, request=request)
    stop = stop_on_signals()
    async with bot:
        sender = OutboxSender(db, {"telegram": telegram_delivery(bot)}, clock, is_quiet=planner.is_quiet,
                              rate=args.rate, concurrency=args.concurrency)
        started = time.perf_counter()
        result = await sender.drain(stop=stop)
        elapsed = time.perf_counter() - started
    await db.close()
    print(json.dumps({"sent": result.sent, "uncertain": result.uncertain, "elapsed": elapsed}), flush=True)


async def run_child(server, db: str, now: datetime, args: argparse.Namespace,  # type: ignore[no-untyped-def]
                    kill: signal.Signals | None = None) -> dict | None:
    """Run one sender process; with ``kill``, send it that signal once half the recipients were called."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--child", "--db", db, "--base-url", server.base_url, "--now", now.isoformat(),
        "--rate", str(args.rate), "--concurrency", str(args.concurrency), stdout=asyncio.subprocess.PIPE,
    )
    if kill is not None:
        while requests(server) < args.recipients // 2:
            await asyncio.sleep(0.005)
        proc.send_signal(kill)
    out, _ = await proc.communicate()
    if kill == signal.SIGKILL:
        return None
    return json.loads(out.decode().strip().splitlines()[-1])


def requests(server) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for c in server.calls if c.method.lower() == "sendmessage")


def tally(server, recipients: int, db: str) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    """Duplicates and lost, as the recipients saw them; rows left uncertain, as the outbox has them."""
    counts = Counter({FIRST_ID + i: len(server.messages(FIRST_ID + i)) for i in range(recipients)})
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    lost = sum(1 for n in counts.values() if n == 0)
    with contextlib.closing(sqlite3.connect(db)) as conn:
        uncertain = conn.execute("SELECT COUNT(*) FROM outbox WHERE status = 'uncertain'").fetchone()[0]
    return duplicates, lost, uncertain


async def bench(args: argparse.Namespace) -> None:
    from support.fakebotapi import FakeBotApi

    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)  # a request cut by SIGKILL is expected
    print(f"fan-out: {args.recipients} recipients, limit {args.rate:.0f} msgs/s, concurrency {args.concurrency}")
    send_at = datetime(2026, 11, 17, 8, 0, 30, tzinfo=TZ)
    # The restart: a minute later by the clock, so a killed process's leases have run out.
    restart_at = datetime(2026, 11, 17, 8, 2, 0, tzinfo=TZ)
    for scenario, kill in (("straight", None), ("SIGTERM halfway", signal.SIGTERM),
                           ("SIGKILL halfway", signal.SIGKILL)):
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "bench.db")
            planned = await seed(db, args.recipients)
            async with FakeBotApi() as server:
                for i in range(args.recipients):
                    server.user(FIRST_ID + i, first_name=f"TV{i}")
                first = await run_child(server, db, send_at, args, kill)
                if kill is None:
                    assert first is not None
                    rate = first["sent"] / first["elapsed"]
                    duplicates, lost, uncertain = tally(server, args.recipients, db)
                    print(f"  {scenario:<16} planned {planned}, sent {first['sent']} in {first['elapsed']:.1f}s: "
                          f"{rate:.1f} msgs/s = {100 * rate / args.rate:.1f}% of the limit; "
                          f"duplicates {duplicates}, lost {lost}, uncertain {uncertain}")
                    continue
                at_stop = requests(server)
                before = f"{first['sent']} settled as sent by the stopped process" if first else "no report"
                report = await run_child(server, db, restart_at, args)
                assert report is not None
                duplicates, lost, uncertain = tally(server, args.recipients, db)
                rate = report["sent"] / report["elapsed"]
                print(f"  {scenario:<16} planned {planned}, {at_stop} requests when it ended ({before}); "
                      f"{report['sent']} sent after restart ({rate:.1f} msgs/s = {100 * rate / args.rate:.1f}% "
                      f"of the limit); duplicates {duplicates}, lost {lost}, uncertain {uncertain}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--now", help=argparse.SUPPRESS)
    args = parser.parse_args()
    asyncio.run(child(args) if args.child else bench(args))


if __name__ == "__main__":
    main()
