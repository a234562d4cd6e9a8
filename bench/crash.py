"""Crash benchmark: kill the real ``tcns run`` in the middle of a burst, restart it, count.

3,600 text reports (``vneid 1`` … ``vneid 12`` from each of 300 members) are queued at the
local fake Bot API (tests/support/fakebotapi.py), which honours ``getUpdates`` offsets as Telegram
does: an update below a confirmed offset is gone for good. The real ``tcns run`` process
serves them (Telegram's rate limits apply: about 30 replies a second). In each case it is
stopped after some replies, then started again and left to finish:

* ``kill -9`` after 200, 1,000 and 2,500 replies;
* ``SIGTERM`` after 1,000 replies, then ``SIGKILL`` 10 s later if still running (what
  ``docker stop`` does); the time it took to exit by itself is printed.

Printed per case: reports lost (sent by a member, acknowledged to Telegram, never recorded),
reports doubled (recorded more than once), members' messages left without any answer, and
what a resend of those got (goal: "đã ghi nhận lúc …", never a second row).

The same cases run against a baseline in the same run: a bare PTB application with PTB's
own ``Updater`` (updates confirmed as soon as they are in its queue in memory) whose handler
stores each report with one INSERT + COMMIT and replies, as most bots do.

Goal (issue 11): 0 lost and 0 doubled in every case; unanswered at most the updates in
flight at the kill (the dispatcher's concurrency, 32); SIGTERM exits within 8 s.

    .venv/bin/python bench/crash.py [--members 300] [--per-member 12] [--no-baseline] [--cases ...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # tests/ holds support.fakebotapi

TOKEN = "123:CRASH"
FIRST_USER = 20_000
REPLY = re.compile(r"VNeID: (\d+) (?:hộ|người)")  # the unit VNeID counts in (content/services.yaml)
BARE_REPLY = re.compile(r"OK (\d+)")
INFLIGHT = 32  # bot.services.inbox.DEFAULT_CONCURRENCY


@dataclass
class Case:
    name: str
    after: int  # replies before the stop
    sigterm: bool = False


CASES = {
    "kill200": Case("kill -9 after 200 replies", 200),
    "kill1000": Case("kill -9 after 1,000 replies", 1000),
    "kill2500": Case("kill -9 after 2,500 replies", 2500),
    "term1000": Case("SIGTERM (then SIGKILL at 10 s) after 1,000 replies", 1000, sigterm=True),
}


@dataclass
class Outcome:
    lost: int = 0
    doubled: int = 0
    unanswered: int = 0
    resend_ok: int = 0
    resend_bad: int = 0
    exit_seconds: float | None = None  # SIGTERM: time to exit by itself (None: killed at 10 s)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


# -- the bots -------------------------------------------------------------------------------------
async def seed_tcns(path: Path, members: int) -> None:
    from bot.domain.clock import SystemClock
    from storage.sqlite.database import SqliteDatabase

    db = await SqliteDatabase(str(path)).open()
    now = SystemClock().now()
    async with db.uow() as uow:
        province = await uow.units.add("province", "P", "Tỉnh")
        commune = await uow.units.add("commune", "XA-CRASH", "Xã Thử", province.id)
        villages = [await uow.units.add("village", f"V{i}", f"Thôn {i}", commune.id, 300, 800)
                    for i in range(30)]
        for i in range(members):
            member = await uow.members.add(f"TV {i}", "member", villages[i % len(villages)].id, now)
            uid = str(FIRST_USER + i)
            await uow.members.link_identity(member.id, "telegram", uid, uid, now)
    await db.close()


def bare_bot(path: str) -> None:
    """The baseline: PTB's own Updater, one INSERT + COMMIT and a reply per update."""
    from telegram import Update
    from telegram.ext import AIORateLimiter, Application, ContextTypes, MessageHandler, filters

    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS reports (chat INTEGER, count INTEGER, at TEXT)")

    async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        assert message is not None and message.text is not None
        count = int(message.text.split()[-1])
        conn.execute("INSERT INTO reports VALUES (?, ?, ?)", (message.chat.id, count, datetime.now(UTC).isoformat()))
        await message.reply_text(f"OK {count}")

    app = (Application.builder().token(TOKEN).base_url(os.environ["TELEGRAM_API_BASE_URL"])
           .rate_limiter(AIORateLimiter(max_retries=0)).concurrent_updates(INFLIGHT).build())
    app.add_handler(MessageHandler(filters.TEXT, handle))
    app.run_polling(allowed_updates=["message"], poll_interval=0, timeout=10)


# -- one case -------------------------------------------------------------------------------------
async def start(kind: str, db: Path, base_url: str, workdir: Path) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TCNS_", "TELEGRAM_", "ZALO_"))}
    env.update(TCNS_DB=str(db), TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=base_url,
               PYTHONPATH=str(ROOT))
    args = [sys.executable, "-m", "bot.cli", "run"] if kind == "tcns" else [sys.executable, __file__, "--bare-bot",
                                                                             str(db)]
    return await asyncio.create_subprocess_exec(*args, env=env, cwd=workdir, stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.DEVNULL)


def answered(server, users, pattern: re.Pattern[str]) -> set[tuple[int, int]]:  # type: ignore[no-untyped-def]
    seen = set()
    for user in users:
        for message in server.messages(user.chat_id):
            match = pattern.search(message.plain_text or "")
            if match:
                seen.add((user.chat_id, int(match.group(1))))
    return seen


def replies(server, users) -> int:  # type: ignore[no-untyped-def]
    return sum(len(server.messages(u.chat_id)) for u in users)


async def wait_for(predicate, timeout: float, every: float = 0.2) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(every)
    return False


async def quiet(server, users, seconds: float, timeout: float) -> None:  # type: ignore[no-untyped-def]
    """Wait until no new reply has come for ``seconds`` (and every update is confirmed)."""
    last, since = -1, time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = replies(server, users)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= seconds and not server.pending_updates:
            return
        await asyncio.sleep(0.2)


def recorded(kind: str, db: Path) -> dict[tuple[int, int], int]:
    with sqlite3.connect(db) as conn:
        if kind == "tcns":
            rows = conn.execute(
                "SELECT i.chat_id, r.count, COUNT(*) FROM reports r JOIN identities i ON i.member_id = r.member_id "
                "WHERE r.voided_at IS NULL GROUP BY i.chat_id, r.count").fetchall()
        else:
            rows = conn.execute("SELECT chat, count, COUNT(*) FROM reports GROUP BY chat, count").fetchall()
    return {(int(chat), int(count)): int(n) for chat, count, n in rows}


async def run_case(kind: str, case: Case, members: int, per_member: int) -> Outcome:
    from support.fakebotapi import FakeBotApi

    outcome = Outcome()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        db = workdir / "tcns.db"
        if kind == "tcns":
            await seed_tcns(db, members)
        async with FakeBotApi() as server:
            users = [server.user(FIRST_USER + i, first_name=f"TV{i}") for i in range(members)]
            for k in range(1, per_member + 1):
                for user in users:
                    await user.send(f"vneid {k}")
            expected = {(u.chat_id, k) for u in users for k in range(1, per_member + 1)}
            pattern = REPLY if kind == "tcns" else BARE_REPLY
            first = await start(kind, db, server.base_url, workdir)
            await wait_for(lambda: replies(server, users) >= case.after, timeout=600)
            if case.sigterm:
                stopped_at = time.monotonic()
                first.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(first.wait(), timeout=10)
                    outcome.exit_seconds = time.monotonic() - stopped_at
                except TimeoutError:
                    first.kill()
            else:
                first.kill()
            await first.wait()
            second = await start(kind, db, server.base_url, workdir)
            try:
                await quiet(server, users, seconds=3.0, timeout=900)
                got = recorded(kind, db)
                outcome.lost = sum(1 for key in expected if got.get(key, 0) == 0)
                outcome.doubled = sum(n - 1 for n in got.values() if n > 1)
                unanswered = sorted(expected - answered(server, users, pattern))
                outcome.unanswered = len(unanswered)
                if kind == "tcns" and unanswered:  # the member sends it again
                    by_user = {u.chat_id: u for u in users}
                    before = {chat: len(server.messages(chat)) for chat, _ in unanswered}
                    for chat, k in unanswered:
                        await by_user[chat].send(f"vneid {k}")
                    await quiet(server, users, seconds=2.0, timeout=120)
                    for chat, _ in unanswered:
                        new = [m.plain_text or "" for m in server.messages(chat)[before[chat]:]]
                        if any("đã ghi nhận" in text for text in new):
                            outcome.resend_ok += 1
                        else:
                            outcome.resend_bad += 1
                    again = recorded(kind, db)
                    if again != got:
                        outcome.notes.append("a resend changed the recorded reports")
            finally:
                second.send_signal(signal.SIGTERM)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(second.wait(), timeout=20)
                if second.returncode is None:
                    second.kill()
    outcome.seconds = time.monotonic() - started
    return outcome


def show(kind: str, case: Case, o: Outcome) -> None:
    extra = ""
    if case.sigterm:
        extra = f", exited {o.exit_seconds:.1f} s after SIGTERM" if o.exit_seconds is not None \
            else ", still running 10 s after SIGTERM: killed"
    resend = f", resent {o.resend_ok + o.resend_bad}: {o.resend_ok} answered as already recorded" \
        if o.resend_ok or o.resend_bad else ""
    notes = f" [{'; '.join(o.notes)}]" if o.notes else ""
    print(f"  {kind:<8} {case.name:<52} lost {o.lost:5d}  doubled {o.doubled:4d}  unanswered {o.unanswered:4d}"
          f"{resend}{extra} ({o.seconds:.0f} s){notes}", flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=300)
    parser.add_argument("--per-member", type=int, default=12)
    parser.add_argument("--cases", nargs="*", choices=sorted(CASES), default=list(CASES))
    parser.add_argument("--no-baseline", action="store_true", help="only tcns, not the bare PTB baseline")
    args = parser.parse_args()
    total = args.members * args.per_member
    print(f"{total} text reports from {args.members} members, queued at the fake Bot API; "
          f"stop, restart, let it finish", flush=True)
    results = []
    for name in args.cases:
        case = CASES[name]
        kinds = ["tcns"] if args.no_baseline else ["tcns", "baseline"]
        for kind in kinds:
            outcome = await run_case(kind, case, args.members, args.per_member)
            show(kind, case, outcome)
            results.append((kind, case, outcome))
    ours = [o for kind, _, o in results if kind == "tcns"]
    worst_unanswered = max(o.unanswered for o in ours)
    exits = [o.exit_seconds for kind, c, o in results if kind == "tcns" and c.sigterm]
    print(f"tcns: lost {sum(o.lost for o in ours)}, doubled {sum(o.doubled for o in ours)} over all cases "
          f"(goal 0 and 0); unanswered at most {worst_unanswered} per stop (goal <= {INFLIGHT}, the updates in "
          f"flight); resends answered as already recorded {sum(o.resend_ok for o in ours)} of "
          f"{sum(o.resend_ok + o.resend_bad for o in ours)}", flush=True)
    if exits:
        shown = ", ".join("killed at 10 s" if e is None else f"{e:.1f} s" for e in exits)
        print(f"tcns: SIGTERM to exit: {shown} (goal < 8 s)")
    base = [o for kind, _, o in results if kind == "baseline"]
    if base:
        print(f"baseline (PTB Updater, insert + reply): lost {sum(o.lost for o in base)}, "
              f"doubled {sum(o.doubled for o in base)} over the same cases")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--bare-bot":
        bare_bot(sys.argv[2])
    else:
        asyncio.run(main())
