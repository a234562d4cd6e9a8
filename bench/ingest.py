"""Ingest benchmark: text reports through the whole stack vs a bare PTB baseline.

N text-report updates from many members are long-polled (``getUpdates``, with offsets) from
an offline request object (no network) by the real python-telegram-bot ``Application`` and
go through the tcns engine into a file SQLite database, as ``tcns run`` does: store-first
(each batch stored durably in the inbox before the next offset confirms it), dispatched in
order per chat. In the same run, a baseline bare PTB app polling with PTB's own ``Updater``,
whose handler does one aiosqlite INSERT + COMMIT and one reply, processes the same updates.
Prints reports/s for both and the ratio. Pinned to one core.

    python bench/ingest.py [--reports 5000] [--members 500] [--rounds 5]

For scale, a third app is timed too: bare PTB doing the same durable work as tcns
(claim, member, report rows, conversation state, in one transaction) one statement per
round trip, the straightforward way (``durable_baseline``); it is not part of the ratio.

Where the time goes is printed too: CPU microseconds per update in the event-loop thread
(PTB, the adapter) and in the SQLite thread (the engine's unit of work), medians of rounds.

Rounds alternate baseline and full stack on fresh databases; the figures printed are
medians, and the ratio is the median of each round's own ratio.

Goal (issue 2): at least 1,000 reports/s for the full stack, ratio at least 0.6.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters
from telegram.request import BaseRequest, RequestData

from bot.content import load_content
from bot.domain.clock import SystemClock
from bot.flows.engine import Engine
from bot.handlers.telegram import CHANNEL, KeepsRawUpdates, build_application
from bot.handlers.telegram_polling import TelegramPolling
from bot.services.inbox import DEFAULT_CONCURRENCY
from storage.sqlite.database import SqliteDatabase

TOKEN = "123456:BENCH"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "tcns", "username": "tcns_bench_bot"}
SERVICES = ["vneid", "cks", "ttkdtm", "dvc", "ssk", "kns"]


class OfflineRequest(BaseRequest):
    """Answers Bot API calls in-process with realistic results; never opens a socket.

    ``getUpdates`` hands out ``updates`` as Telegram does: up to ``limit`` from ``offset``
    on, the ones below ``offset`` confirmed and gone; nothing left: a short wait, then [].
    """

    def __init__(self, updates: list[dict[str, Any]] | None = None) -> None:
        self._message_id = 0
        self.sent = 0
        self._updates = [json.dumps(u).encode() for u in updates or []]
        self._first = 0  # index of the first update not confirmed yet
        self.done = asyncio.Event()

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1].lower()  # Bot API method names are case-insensitive
        params = request_data.parameters if request_data else {}
        result: Any = True
        if name == "getupdates":
            return 200, await self._get_updates(params)
        if name == "getme":
            result = BOT_USER
        elif name == "sendmessage":
            self._message_id += 1
            self.sent += 1
            if self.sent == len(self._updates):
                self.done.set()
            result = {
                "message_id": self._message_id, "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private"},
                "from": BOT_USER, "text": params.get("text", ""),
            }
        return 200, json.dumps({"ok": True, "result": result}).encode()

    async def _get_updates(self, params: dict[str, Any]) -> bytes:
        offset, limit = int(params.get("offset") or 0), int(params.get("limit") or 100)
        self._first = max(self._first, offset - 1)  # update ids are 1, 2, 3...: index = id - 1
        batch = self._updates[self._first:self._first + limit]
        if not batch:
            await asyncio.sleep(0.01)
        return b'{"ok":true,"result":[' + b",".join(batch) + b"]}"


class RawOfflineRequest(KeepsRawUpdates, OfflineRequest):
    """tcns's getUpdates connection keeps the raw updates it stores (as ``UpdatesRequest`` does)."""


def make_updates(count: int, members: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    updates = []
    seen: set[tuple[int, frozenset[tuple[str, int]]]] = set()
    for update_id in range(1, count + 1):
        user_id = 10_000 + rng.randrange(members)
        while True:  # never the same items twice from one member: a repeat is asked about, not recorded
            picked = [(service, rng.randint(1, 20)) for service in rng.sample(SERVICES, rng.randint(1, 3))]
            if (user_id, frozenset(picked)) not in seen:
                seen.add((user_id, frozenset(picked)))
                break
        text = " ".join(f"{service} {n}" for service, n in picked)
        updates.append({
            "update_id": update_id,
            "message": {
                "message_id": update_id, "date": int(time.time()), "text": text,
                "chat": {"id": user_id, "type": "private", "first_name": "Member"},
                "from": {"id": user_id, "is_bot": False, "first_name": "Member"},
            },
        })
    return updates


async def seed(db: SqliteDatabase, members: int) -> None:
    now = datetime.now(UTC)
    async with db.uow() as uow:
        commune = await uow.units.add("commune", "BENCH", "Xã Bench")
        villages = [await uow.units.add("village", f"V{i}", f"Thôn {i}", commune.id, 300, 800) for i in range(50)]
        for i in range(members):
            member = await uow.members.add(f"Member {i}", "member", villages[i % len(villages)].id, now)
            await uow.members.link_identity(member.id, CHANNEL, str(10_000 + i), str(10_000 + i), now)


# Per run: CPU microseconds per update in the event-loop thread and in the other threads
# (the SQLite thread), where the threads expose CPU clocks (Linux); appended by ``run``.
CPU: list[tuple[float, float] | None] = []


def thread_cpu() -> dict[int, float] | None:
    """CPU seconds of every live thread of this process, by thread id."""
    if not hasattr(time, "pthread_getcpuclockid"):
        return None
    clocks = {}
    for thread in threading.enumerate():
        try:
            clocks[thread.ident or 0] = time.clock_gettime(time.pthread_getcpuclockid(thread.ident or 0))
        except OSError:  # the thread ended meanwhile
            continue
    return clocks


def cpu_spent(before: dict[int, float] | None, after: dict[int, float] | None,
              count: int) -> tuple[float, float] | None:
    if before is None or after is None:
        return None
    main = threading.main_thread().ident
    spent = {ident: after[ident] - before.get(ident, 0.0) for ident in after}
    loop = spent.pop(main or 0, 0.0)
    return loop / count * 1e6, sum(spent.values()) / count * 1e6


async def run(app: Application, request: OfflineRequest, updates: list[dict[str, Any]], mode: str,
              tcns: bool) -> float:
    """Process every update; return the seconds it took.

    ``polling`` (default) is how ``tcns run`` works: long polling (``getUpdates``) from the
    offline server. tcns polls store-first (``TelegramPolling``: fetch, store the batch
    durably, confirm it with the next offset, dispatch in order per chat); the baseline
    polls with PTB's own ``Updater`` (the batch goes into a queue in memory and is
    confirmed at once). Both parse the same JSON and send the same number of replies.
    ``sequential`` awaits ``process_update`` for one update after the other (no polling,
    no inbox: the engine's unit of work alone).
    """
    cpu_before = thread_cpu()
    started = time.perf_counter()
    if mode == "sequential":
        await app.initialize()
        for update in [Update.de_json(u, app.bot) for u in updates]:
            await app.process_update(update)
        elapsed = time.perf_counter() - started
        await app.shutdown()
    elif tcns:
        polling = TelegramPolling(app, poll_seconds=0)
        await polling.start()
        await request.done.wait()
        elapsed = time.perf_counter() - started
        await polling.stop()
    else:
        await app.initialize()
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=0)
        await request.done.wait()
        elapsed = time.perf_counter() - started
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    CPU.append(cpu_spent(cpu_before, thread_cpu(), len(updates)))
    return elapsed


async def full_stack(workdir: Path, updates: list[dict[str, Any]], members: int, mode: str) -> tuple[float, int]:
    db = await SqliteDatabase(str(workdir / "full.db")).open()
    await seed(db, members)
    content = load_content()
    content.lexicon  # noqa: B018 - loaded at start-up as open_runtime does, not by the first report timed
    content.deadlines  # noqa: B018
    engine = Engine(db, content, SystemClock(), ZoneInfo("Asia/Ho_Chi_Minh"))
    request = RawOfflineRequest(updates)
    app = build_application(TOKEN, engine, content, rate_limit=False, request=request)
    elapsed = await run(app, request, updates, mode, tcns=True)
    rows = await db.conn.execute_fetchall("SELECT COUNT(DISTINCT batch_id || '/' || member_id) FROM reports")
    await db.close()
    recorded = int(rows[0][0])
    assert request.sent == len(updates), f"{request.sent} replies for {len(updates)} updates"
    return elapsed, recorded


async def baseline(workdir: Path, updates: list[dict[str, Any]], mode: str) -> tuple[float, int]:
    conn = await aiosqlite.connect(str(workdir / "base.db"))
    await conn.execute("PRAGMA journal_mode = WAL")
    await conn.execute("PRAGMA synchronous = NORMAL")
    await conn.execute("CREATE TABLE reports (id INTEGER PRIMARY KEY, user_id INTEGER, text TEXT, created_at TEXT)")
    await conn.commit()

    async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        assert message is not None and message.from_user is not None
        await conn.execute(
            "INSERT INTO reports (user_id, text, created_at) VALUES (?, ?, ?)",
            (message.from_user.id, message.text, datetime.now(UTC).isoformat()),
        )
        await conn.commit()
        await message.reply_text("OK")

    return await run_bare(handle, conn, "SELECT COUNT(*) FROM reports", updates, mode)


async def run_bare(handle: Any, conn: aiosqlite.Connection, count_sql: str, updates: list[dict[str, Any]],
                   mode: str) -> tuple[float, int]:
    """Time a bare PTB app with one text handler; return the seconds and the rows ``count_sql`` counts."""
    request = OfflineRequest(updates)
    # The same concurrency as tcns, with PTB's own (cheaper) processor that keeps no order per chat.
    builder = Application.builder().token(TOKEN).request(request).get_updates_request(request)
    app = builder.concurrent_updates(DEFAULT_CONCURRENCY).build()
    app.add_handler(MessageHandler(filters.TEXT, handle))
    elapsed = await run(app, request, updates, mode, tcns=False)
    rows = await conn.execute_fetchall(count_sql)
    await conn.close()
    return elapsed, int(rows[0][0])


async def durable_baseline(workdir: Path, updates: list[dict[str, Any]], members: int, mode: str) -> tuple[float, int]:
    """A bare PTB app doing the same durable work as tcns, the straightforward way.

    Not the issue's baseline (that one stores the text and nothing else): this handler,
    on tcns's own schema, claims the update id, looks up the member, appends one report
    row per service and stores the conversation in one transaction (a statement per
    round trip, one update at a time on the shared connection), then replies with an undo
    button. No parser beyond "service count" pairs, no flows, no texts.
    """
    path = str(workdir / "durable.db")
    db = await SqliteDatabase(path).open()
    await seed(db, members)
    await db.close()
    conn = await aiosqlite.connect(path, isolation_level=None)
    for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON"):
        await conn.execute(f"PRAGMA {pragma}")
    lock = asyncio.Lock()

    async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        assert message is not None and message.from_user is not None and message.text is not None
        now = datetime.now(UTC).isoformat()
        words = message.text.split()
        batch = f"{update.update_id:x}"
        async with lock:
            await conn.execute("BEGIN IMMEDIATE")
            try:
                claimed = await conn.execute(
                    "INSERT INTO inbox (channel, update_key, seq, received_at, processed_at) VALUES (?, ?, 0, ?, ?) "
                    "ON CONFLICT DO NOTHING", (CHANNEL, str(update.update_id), now, now))
                if claimed.rowcount == 1:
                    cursor = await conn.execute(
                        "SELECT m.id, m.unit_id FROM identities i JOIN members m ON m.id = i.member_id "
                        "WHERE i.channel = ? AND i.external_id = ?", (CHANNEL, str(message.from_user.id)))
                    member = await cursor.fetchone()
                    assert member is not None
                    await conn.executemany(
                        "INSERT INTO reports (batch_id, member_id, village_id, service, count, occurred_on, "
                        "created_at, source) VALUES (?, ?, ?, ?, ?, ?, ?, 'text')",
                        [(batch, member[0], member[1], words[i], int(words[i + 1]), now[:10], now)
                         for i in range(0, len(words) - 1, 2)])
                    await conn.execute(
                        "INSERT INTO conversations (channel, chat_id, flow, step, data, version, updated_at) "
                        "VALUES (?, ?, '', '', ?, 1, ?) ON CONFLICT (channel, chat_id) DO UPDATE SET "
                        "data = excluded.data, version = version + 1, updated_at = excluded.updated_at",
                        (CHANNEL, str(message.chat.id), json.dumps({"_keys": {"huy": "g:undo"}}), now))
                await conn.execute("COMMIT")
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
        undo = InlineKeyboardMarkup([[InlineKeyboardButton("Hoàn tác", callback_data=f"g:undo:{batch}")]])
        await message.reply_text("OK", reply_markup=undo)

    return await run_bare(handle, conn, "SELECT COUNT(DISTINCT batch_id) FROM reports", updates, mode)


def print_cpu(rounds: int) -> None:
    """Where the time goes: CPU per update, event-loop thread vs SQLite thread (medians)."""
    if any(c is None for c in CPU):
        return
    runs = [c for c in CPU if c is not None]
    for label, offset in (("baseline", 0), ("full stack", 1), ("durable baseline", 2)):
        mine = runs[offset::3][:rounds]
        print(f"  CPU per update, {label:<16}: event loop {median(m for m, _ in mine):4.0f} us, "
              f"SQLite thread {median(d for _, d in mine):4.0f} us")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=5000)
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved baseline/full-stack rounds")
    parser.add_argument("--mode", choices=("polling", "sequential"), default="polling",
                        help="polling: long polling as tcns run (tcns store-first, the baseline PTB's Updater); "
                             "sequential: process_update one by one")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    updates = make_updates(args.reports, args.members)
    print(f"updates: {len(updates)} text reports from {args.members} members, one core, {args.rounds} rounds, "
          f"mode {args.mode}")
    base_rates, full_rates, ratios, durable_rates = [], [], [], []
    for round_no in range(1, args.rounds + 1):
        # Interleaved, each round on fresh databases: a noisy neighbour slows both sides of a round.
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            base_time, base_rows = await baseline(workdir, updates, args.mode)
            full_time, full_rows = await full_stack(workdir, updates, args.members, args.mode)
            durable_time, durable_rows = await durable_baseline(workdir, updates, args.members, args.mode)
        if full_rows != len(updates) or base_rows != len(updates) or durable_rows != len(updates):
            raise SystemExit(f"lost work: full stack recorded {full_rows}, baseline {base_rows}, "
                             f"durable baseline {durable_rows} of {len(updates)}")
        durable_rates.append(len(updates) / durable_time)
        base_rates.append(len(updates) / base_time)
        full_rates.append(len(updates) / full_time)
        ratios.append(full_rates[-1] / base_rates[-1])
        print(f"  round {round_no}: baseline {base_rates[-1]:6.0f}/s, full stack {full_rates[-1]:6.0f}/s, "
              f"ratio {ratios[-1]:.2f}; durable baseline {durable_rates[-1]:6.0f}/s")
    print(f"baseline (bare PTB, 1 insert + commit + reply): {median(base_rates):8.0f} reports/s (median)")
    print(f"tcns full stack (engine, parser, state, reply): {median(full_rates):8.0f} reports/s (median)")
    print(f"ratio full/baseline: {median(ratios):.2f} median of rounds  (goal >= 0.6; goal >= 1000 reports/s)")
    print_cpu(args.rounds)
    print(f"for scale, a bare PTB app doing the same durable work (claim, member, reports, state) "
          f"one statement at a time: {median(durable_rates):.0f} reports/s")


if __name__ == "__main__":
    asyncio.run(main())
