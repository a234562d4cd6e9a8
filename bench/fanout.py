"""Fan-out benchmark: 10,000 recipients with a due reminder, sent through the production
planner, outbox and sender (rate limiter at --rate msgs/s) to the local fake Bot API
server (tests/fakebotapi.py). Then the same again with the sending process killed with
SIGKILL halfway and started again.

Prints messages/s achieved against the configured limit (goal: at least 95%),
duplicates (goal: 0) and lost messages (goal: 0), plus rows left ``uncertain`` (sent
or not: the at-most-once window, see bot/outbox.py).

    .venv/bin/python bench/fanout.py [--recipients 10000] [--rate 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bot.clock import FixedClock  # noqa: E402
from bot.content import load_content  # noqa: E402
from bot.deadlines import Planner  # noqa: E402
from bot.reminders import scheduling_pass  # noqa: E402
from storage import SqliteDatabase  # noqa: E402

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
    """One sender process: drain the outbox to the fake server, print what it did."""
    from telegram import Bot
    from telegram.request import HTTPXRequest

    from bot.handlers.telegram_outbox import telegram_delivery
    from bot.outbox import OutboxSender

    content = load_content()
    planner = Planner(content.deadlines, TZ)
    db = await SqliteDatabase(args.db).open()
    clock = FixedClock(datetime.fromisoformat(args.now))
    request = HTTPXRequest(connection_pool_size=args.concurrency + 2)
    bot = Bot(TOKEN, base_url=args.base_url, request=request)
    async with bot:
        sender = OutboxSender(db, {"telegram": telegram_delivery(bot)}, clock, is_quiet=planner.is_quiet,
                              rate=args.rate, concurrency=args.concurrency)
        started = time.perf_counter()
        result = await sender.drain()
        elapsed = time.perf_counter() - started
    await db.close()
    print(json.dumps({"sent": result.sent, "uncertain": result.uncertain, "elapsed": elapsed}), flush=True)


async def run_child(server_url: str, db: str, now: datetime, rate: float, concurrency: int,
                    kill_after: int | None, server) -> dict | None:  # type: ignore[no-untyped-def]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--child", "--db", db, "--base-url", server_url, "--now", now.isoformat(),
        "--rate", str(rate), "--concurrency", str(concurrency), stdout=asyncio.subprocess.PIPE,
    )
    if kill_after is not None:
        while sum(1 for c in server.calls if c.method.lower() == "sendmessage") < kill_after:
            await asyncio.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        return None
    out, _ = await proc.communicate()
    return json.loads(out.decode().strip().splitlines()[-1])


def tally(server, recipients: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    counts = Counter({FIRST_ID + i: len(server.messages(FIRST_ID + i)) for i in range(recipients)})
    duplicates = sum(n - 1 for n in counts.values() if n > 1)
    lost = sum(1 for n in counts.values() if n == 0)
    return duplicates, lost


async def bench(args: argparse.Namespace) -> None:
    from fakebotapi import FakeBotApi

    print(f"fan-out: {args.recipients} recipients, limit {args.rate:.0f} msgs/s, concurrency {args.concurrency}")
    for scenario in ("straight", "killed halfway"):
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "bench.db")
            planned = await seed(db, args.recipients)
            async with FakeBotApi() as server:
                for i in range(args.recipients):
                    server.user(FIRST_ID + i, first_name=f"TV{i}")
                send_at = datetime(2026, 11, 17, 8, 0, 30, tzinfo=TZ)
                if scenario == "straight":
                    report = await run_child(server.base_url, db, send_at, args.rate, args.concurrency, None, server)
                    assert report is not None
                    rate = report["sent"] / report["elapsed"]
                    duplicates, lost = tally(server, args.recipients)
                    print(f"  {scenario:<15} planned {planned}, sent {report['sent']} in {report['elapsed']:.1f}s: "
                          f"{rate:.1f} msgs/s = {100 * rate / args.rate:.1f}% of the limit; "
                          f"duplicates {duplicates}, lost {lost}")
                else:
                    await run_child(server.base_url, db, send_at, args.rate, args.concurrency,
                                    args.recipients // 2, server)
                    at_kill = sum(1 for c in server.calls if c.method.lower() == "sendmessage")
                    # The restart: a minute later by the clock, so the dead process's leases have run out.
                    restart_at = datetime(2026, 11, 17, 8, 2, 0, tzinfo=TZ)
                    report = await run_child(server.base_url, db, restart_at, args.rate, args.concurrency,
                                             None, server)
                    assert report is not None
                    duplicates, lost = tally(server, args.recipients)
                    rate = report["sent"] / report["elapsed"]
                    print(f"  {scenario:<15} planned {planned}, {at_kill} requests before SIGKILL, "
                          f"{report['sent']} sent after restart ({rate:.1f} msgs/s); uncertain rows "
                          f"{report['uncertain']}; duplicates {duplicates}, lost {lost}")


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
