"""Heavy-command benchmark: does a member wait while staff page, export or a reminder pass runs?

Builds one commune at the scale of issue 11 (10,000 members in 100 villages, 1M reports over
2026, 2% voided; bulk-inserted in SQL as bench/tally.py does, with every trigger and index of
the real schema), then, through the real engine (``Engine.handle``: the unit of work, group
commit, the database thread, the worker thread that builds files), measures the latency of a
member's message (``/cuatoi`` and a text report ``hôm qua vneid 1``, alternately) sent every
``--interval`` ms:

* with nothing else running (the baseline, in the same run);
* while a staff member pages through ``/gannhat`` (page after page, "xem tiếp"; ``--pages``);
* while a staff member pages through the whole of ``/thanhvien`` (10,000 members);
* while ``/xuat nam`` builds the XLSX of the year (1M detail rows);
* while a reminder scheduling pass enqueues ~90,000 messages (nine campaign deadlines whose
  T−3 step falls now, each to every member of the commune);
* while the outbox sender drains those 90,000 rows (a delivery that answers at once, at
  ``--rate`` messages/s), which is what follows a pass in ``tcns run``.

For each it prints the member's median, p95 and worst latency against the baseline, the
difference, and the heavy work's own time. Goal (issue 11): at most 200 ms more than the
baseline. Then, in a subprocess of its own, a year's export of the 1M rows is built and its
peak memory (VmHWM of that process, which builds the file as the export process does) is
printed. Goal:
under 300 MB.

    .venv/bin/python bench/heavy.py            # 10,000 members, 1M reports (a few minutes)
    .venv/bin/python bench/heavy.py --quick    # 2,000 members, 100,000 reports
    .venv/bin/python bench/heavy.py --db /tmp/heavy.db [--reuse]   # keep (or reuse) the database
    .venv/bin/python bench/heavy.py --db /tmp/heavy.db --reuse --only reminders,export   # some scenarios

Scenarios for ``--only`` (comma-separated; the idle baseline is always measured first, in the
same run): ``reminders``, ``sender`` (fills the queue with an unmeasured pass if ``reminders``
is not run), ``announce`` (``/thongbao all``, confirmed, and its ~10,000 copies queued as the
outbox sender's follow-up does), ``gannhat``, ``thanhvien``, ``export``, ``memory`` (the
export's peak memory).
For each scenario the worst message is also placed in time ("at 3.2 of 9.9 s"), to tell a
stall at the start or the end of the heavy work from one in its middle.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.content import load_content  # noqa: E402
from bot.domain.clock import FixedClock  # noqa: E402
from bot.domain.deadlines import Planner  # noqa: E402
from bot.domain.messages import Inbound, Reply  # noqa: E402
from bot.flows.engine import Engine  # noqa: E402
from bot.services.announcements import fan_out  # noqa: E402
from bot.services.outbox import SENT, Delivery, OutboxSender  # noqa: E402
from bot.services.reminders import scheduling_pass  # noqa: E402
from storage.sqlite.database import SqliteDatabase  # noqa: E402 - the bench seeds SQLite directly

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 12, 16, 8, 0, tzinfo=TZ)  # Wednesday 08:00: T−3 of the campaigns due Monday 21/12
FIRST_DAY, LAST_DAY = date(2026, 1, 1), date(2026, 12, 15)  # the reports: every day of the year so far
CAMPAIGNS = 9
COMMUNE_ID, VILLAGE_BASE, STAFF_ID = 2, 100, 1_000_000
SERVICES = ("vneid", "chu_ky_so", "thanh_toan", "dich_vu_cong", "so_suc_khoe", "ky_nang_so")
GOAL_EXTRA_MS = 200.0
GOAL_EXPORT_MB = 300.0


# --------------------------------------------------------------------------------------------
# Building the commune
# --------------------------------------------------------------------------------------------


def build(path: Path, members: int, villages: int, reports: int) -> None:
    asyncio.run(_migrate(path))
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -1000000")
    stamp = "2026-01-01T00:00:00+00:00"
    conn.execute("INSERT INTO units (id, kind, code, name) VALUES (1, 'province', 'QT', 'Tỉnh Quảng Trị')")
    conn.execute(f"INSERT INTO units (id, kind, parent_id, code, name) VALUES ({COMMUNE_ID}, 'commune', 1, "
                 "'XA-LON', 'Xã Lớn')")
    conn.executemany(
        "INSERT INTO units (id, kind, parent_id, code, name, households, adults) VALUES (?, 'village', ?, ?, ?, ?, ?)",
        [(VILLAGE_BASE + v, COMMUNE_ID, f"THON-{v:03d}", f"Thôn Phước Hòa Đông {v:03d}", 400, 1100)
         for v in range(villages)])
    # Member m (1..members) belongs to village (m - 1) % villages; the first of each village leads it.
    conn.executemany(
        "INSERT INTO members (id, name, role, unit_id, created_at) VALUES (?, ?, ?, ?, ?)",
        [(m, f"Nguyễn Thị Thanh Hương {m:05d}", "leader" if m <= villages else "member",
          VILLAGE_BASE + (m - 1) % villages, stamp) for m in range(1, members + 1)])
    conn.execute(f"INSERT INTO members (id, name, role, unit_id, created_at) VALUES ({STAFF_ID}, 'Cán bộ Văn hóa', "
                 f"'staff', {COMMUNE_ID}, '{stamp}')")
    conn.executemany(
        "INSERT INTO identities (member_id, channel, external_id, chat_id, created_at) VALUES (?, 'telegram', ?, ?, ?)",
        [(m, f"m{m}", f"m{m}", stamp) for m in [*range(1, members + 1), STAFF_ID]])
    # Nine campaign deadlines due Monday 21/12, counted from today: nobody has reported for them.
    conn.executemany(
        "INSERT INTO custom_deadlines (commune_id, name, starts_on, due_on, created_at) VALUES (?, ?, ?, ?, ?)",
        [(COMMUNE_ID, f"Chiến dịch số {n + 1}", NOW.date().isoformat(), "2026-12-21", stamp)
         for n in range(CAMPAIGNS)])
    conn.commit()
    days = (LAST_DAY - FIRST_DAY).days + 1
    per_day = reports // days
    service = "CASE i % 6 " + " ".join(f"WHEN {n} THEN '{s}'" for n, s in enumerate(SERVICES)) + " END"
    sql = (
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?3 - 1) "
        "INSERT INTO reports (batch_id, member_id, village_id, service, count, occurred_on, created_at, source, "
        "voided_at, voided_by, void_reason) "
        f"SELECT 'b' || ?1 || '-' || i, m, {VILLAGE_BASE} + (m - 1) % {villages}, {service}, 1 + i % 5, ?2, "
        "?2 || 'T10:00:00+00:00', 'text', CASE WHEN i % 50 = 0 THEN ?2 || 'T11:00:00+00:00' END, "
        "CASE WHEN i % 50 = 0 THEN m END, CASE WHEN i % 50 = 0 THEN 'member_undo' END "
        f"FROM (SELECT i, 1 + (i * 7919 + ?1 * 104729) % {members} AS m FROM n)"
    )
    started = time.perf_counter()
    for day in range(days):
        conn.execute(sql, (day, (FIRST_DAY + timedelta(days=day)).isoformat(), per_day))
        if day % 30 == 29:
            conn.commit()
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    total = conn.execute("SELECT COUNT(*) FROM reports").fetchone()[0]
    conn.close()
    print(f"built: {members:,} members in {villages} villages, {total:,} reports ({per_day:,}/day) "
          f"in {time.perf_counter() - started:.0f} s, {path.stat().st_size / 2**20:,.0f} MB")


async def _migrate(path: Path) -> None:
    db = await SqliteDatabase(str(path)).open()
    await db.close()


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------


SCENARIOS = ("reminders", "sender", "announce", "gannhat", "thanhvien", "export", "memory")


@dataclass
class Stats:
    samples: list[float]
    at: list[float] | None = None  # when each message was sent, in s from the start of the heavy work

    def worst_at(self) -> str:
        if not self.at:
            return ""
        worst = max(range(len(self.samples)), key=self.samples.__getitem__)
        return f"worst at {self.at[worst]:.1f} s"

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]

    @property
    def worst(self) -> float:
        return max(self.samples)


class Bench:
    def __init__(self, db: SqliteDatabase, engine: Engine, members: int, interval: float) -> None:
        self.db, self.engine, self.members, self.interval = db, engine, members, interval
        self._keys = itertools.count(1)
        self._run = f"{time.time_ns():x}"  # update keys new in every run: a reused database knows the last run's
        self._turn = itertools.count()

    def key(self) -> str:
        return f"bench-{self._run}-{next(self._keys)}"

    def inbound(self, user: str, text: str) -> Inbound:
        return Inbound("telegram", self.key(), user, user, "Bench", text=text)

    async def member_message(self) -> float:
        """One member's message through the engine, in ms: /cuatoi and a text report in turn (for
        yesterday: the campaigns count from today, so the reports do not change who is reminded)."""
        turn = next(self._turn)
        user = f"m{self.members // 2 + (turn * 37) % (self.members // 2)}"  # members, not leaders
        started = time.perf_counter()
        await self.engine.handle(self.inbound(user, "/cuatoi" if turn % 2 else "hôm qua vneid 1"))
        return (time.perf_counter() - started) * 1000

    async def probe(self, busy: asyncio.Future[object] | None, count: int | None = None) -> Stats:
        """Member messages one after another, ``interval`` apart, until ``busy`` is done (or ``count``)."""
        samples: list[float] = []
        at: list[float] = []
        started = time.perf_counter()
        while (busy is None and len(samples) < (count or 0)) or (busy is not None and not busy.done()):
            at.append(time.perf_counter() - started)
            samples.append(await self.member_message())
            await asyncio.sleep(self.interval)
        if not samples:
            at.append(time.perf_counter() - started)
            samples.append(await self.member_message())
        return Stats(samples, at)

    async def staff(self, text: str) -> list[Reply]:
        return await self.engine.handle(self.inbound("m" + str(STAFF_ID), text))

    async def page_through(self, command: str, limit: int | None = None) -> tuple[int, float]:
        """A staff member reads a list page after page ("xem tiếp"), to its end or ``limit`` pages;
        (pages, slowest page in ms)."""
        pages, worst = 0, 0.0
        started = time.perf_counter()
        replies = await self.staff(command)
        while True:
            worst = max(worst, (time.perf_counter() - started) * 1000)
            pages += 1
            more = [o for r in replies for row in r.options for o in row if o.key == "tiep"]
            if not more or pages == limit:
                return pages, worst
            started = time.perf_counter()
            replies = await self.engine.handle(Inbound("telegram", self.key(), f"m{STAFF_ID}",
                                                       f"m{STAFF_ID}", "Bench", choice=more[0].data))


async def while_running(bench: Bench, label: str, work: Callable[[], Awaitable[str]], baseline: Stats,
                        results: list[tuple[str, Stats, str]]) -> None:
    started = time.perf_counter()
    task = asyncio.ensure_future(work())
    await asyncio.sleep(0)  # the heavy work starts first
    loaded = await bench.probe(task)
    note = await task
    seconds = time.perf_counter() - started
    results.append((label, loaded, note))
    extra = loaded.worst - baseline.worst
    print(f"  {label:<34} median {loaded.median:7.1f}  p95 {loaded.p95:7.1f}  worst {loaded.worst:7.1f} ms "
          f"({len(loaded.samples)} messages; worst {extra:+.1f} ms vs idle, {loaded.worst_at()} of {seconds:.1f})"
          f"  [{note}]", flush=True)


async def measure(path: Path, members: int, interval: float, rate: float,
                  pages_limit: int, only: set[str]) -> list[tuple[str, Stats, str]]:
    content = load_content()
    db = await SqliteDatabase(str(path)).open()
    clock = FixedClock(NOW)
    engine = Engine(db, content, clock, TZ)
    bench = Bench(db, engine, members, interval)
    results: list[tuple[str, Stats, str]] = []
    try:
        await db.conn.execute("DELETE FROM outbox")  # a reused database starts with an empty queue
        await db.conn.commit()
        for _ in range(20):  # warm the cache as a running bot would be
            await bench.member_message()
        baseline = await bench.probe(None, count=300)
        results.append(("idle (baseline)", baseline, ""))
        print(f"  {'idle (baseline)':<34} median {baseline.median:7.1f}  p95 {baseline.p95:7.1f}  "
              f"worst {baseline.worst:7.1f} ms ({len(baseline.samples)} messages)", flush=True)

        async def recent() -> str:
            started = time.perf_counter()
            pages, worst = await bench.page_through("/gannhat", pages_limit)
            return f"{pages} pages in {time.perf_counter() - started:.1f} s, worst page {worst:.0f} ms"

        async def roster() -> str:
            started = time.perf_counter()
            pages, worst = await bench.page_through("/thanhvien")
            return f"{pages} pages in {time.perf_counter() - started:.1f} s, worst page {worst:.0f} ms"

        async def export() -> str:
            started = time.perf_counter()
            replies = await bench.staff("/xuat nam")
            file = replies[0].attachment
            assert file is not None and not callable(getattr(file, "build", None)), replies[0].text
            return f"{len(file.data) / 2**20:.1f} MB XLSX in {time.perf_counter() - started:.1f} s"  # type: ignore[union-attr]

        async def reminder_pass() -> str:
            started = time.perf_counter()
            result = await scheduling_pass(db, content, TZ, clock.now())
            return f"{result.added:,} messages enqueued in {time.perf_counter() - started:.1f} s"

        async def announce() -> str:
            started = time.perf_counter()
            replies = await bench.staff("/thongbao all Họp dân toàn xã lúc 8 giờ sáng thứ Hai tại hội trường")
            send = [o for r in replies for row in r.options for o in row if o.data.endswith(":send")]
            assert send, replies[0].text
            await bench.engine.handle(Inbound("telegram", bench.key(), f"m{STAFF_ID}", f"m{STAFF_ID}", "Bench",
                                              choice=send[0].data))
            confirmed = time.perf_counter() - started
            added = await fan_out(db, content, clock.now())
            return (f"confirmed in {confirmed * 1000:.0f} ms, then {added:,} more copies queued "
                    f"in {time.perf_counter() - started:.1f} s")

        async def sender_drain() -> str:
            stop = asyncio.Event()

            async def deliver(message: object) -> Delivery:
                return Delivery(SENT)

            planner = Planner(content.deadlines, TZ)
            sender = OutboxSender(db, {"telegram": deliver}, clock, is_quiet=planner.is_quiet, rate=rate,
                                  per_chat_interval=0)
            started = time.perf_counter()
            drain = asyncio.ensure_future(sender.drain(stop=stop))
            await asyncio.sleep(10)
            stop.set()
            result = await drain
            return f"{result.sent:,} sent in {time.perf_counter() - started:.1f} s from the pass's queue"

        # The pass first: the members' text reports sent meanwhile report their villages for today,
        # which takes them out of the campaigns' reminders.
        if "reminders" in only:
            await while_running(bench, "reminder scheduling pass", reminder_pass, baseline, results)
        if "sender" in only:
            if "reminders" not in only:
                print(f"  (the queue for the sender: an unmeasured pass, {await reminder_pass()})", flush=True)
            await while_running(bench, "outbox sender draining the pass", sender_drain, baseline, results)
        if "announce" in only:
            await while_running(bench, "/thongbao all (10,000 copies)", announce, baseline, results)
        if "gannhat" in only:
            await while_running(bench, f"paging /gannhat ({pages_limit} pages)", recent, baseline, results)
        if "thanhvien" in only:
            await while_running(bench, "paging /thanhvien (all pages)", roster, baseline, results)
        if "export" in only:
            await while_running(bench, "/xuat nam (XLSX of the year)", export, baseline, results)
    finally:
        await db.close()
    return results


# --------------------------------------------------------------------------------------------
# Peak memory of a year's export, in a process of its own
# --------------------------------------------------------------------------------------------


def _peak_mb() -> float:
    """This process's peak resident memory: VmHWM, not ru_maxrss, which Linux carries over from
    the parent across fork and exec (the benchmark's own process, hundreds of MB)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def export_memory(path: Path) -> None:
    """Child: the year's XLSX, as /xuat builds it; prints its peak memory as JSON."""
    from bot.domain.periods import year_of
    from bot.services.export import gather, write_xlsx
    from bot.services.tallies import build_tally

    content = load_content()
    before = _peak_mb()

    async def tally():  # type: ignore[no-untyped-def]
        db = await SqliteDatabase(str(path)).open()
        try:
            async with db.uow() as uow:
                commune = await uow.units.get(COMMUNE_ID)
                assert commune is not None
                built = await build_tally(uow, commune, year_of(NOW.date()), content.catalogue.codes, NOW)
                return await gather(uow, built)
        finally:
            await db.close()

    data = asyncio.run(tally())
    started = time.perf_counter()
    body = write_xlsx(data, content, TZ)  # what the export process runs (to_xlsx hands a big file to one)
    seconds = time.perf_counter() - started
    peak = _peak_mb()
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT COUNT(*) FROM reports WHERE occurred_on BETWEEN '2026-01-01' AND '2026-12-31' "
                            "AND village_id IN (SELECT id FROM units WHERE parent_id = ?)", (COMMUNE_ID,)).fetchone()[0]
    print(json.dumps({"before_mb": before, "peak_mb": peak, "seconds": seconds, "bytes": len(body), "rows": rows}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2,000 members, 100,000 reports")
    parser.add_argument("--members", type=int, default=None)
    parser.add_argument("--reports", type=int, default=None)
    parser.add_argument("--villages", type=int, default=100)
    parser.add_argument("--interval", type=float, default=50.0, help="ms between two member messages")
    parser.add_argument("--rate", type=float, default=30.0, help="outbox messages/s while draining")
    parser.add_argument("--pages", type=int, default=300, help="pages of /gannhat a staff member reads")
    parser.add_argument("--db", type=Path, default=None, help="database file (default: a temporary one)")
    parser.add_argument("--reuse", action="store_true", help="measure the existing --db, building nothing")
    parser.add_argument("--only", default=",".join(SCENARIOS),
                        help=f"comma-separated scenarios to run (default all: {','.join(SCENARIOS)})")
    parser.add_argument("--export-memory", action="store_true", help=argparse.SUPPRESS)  # the child
    args = parser.parse_args()
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    if only - set(SCENARIOS):
        parser.error(f"unknown scenario(s): {', '.join(sorted(only - set(SCENARIOS)))}")
    if args.export_memory:
        export_memory(args.db)
        return
    members = args.members or (2_000 if args.quick else 10_000)
    reports = args.reports or (100_000 if args.quick else 1_000_000)
    villages = min(args.villages, members)
    workdir = None
    if args.db is None:
        workdir = tempfile.mkdtemp(prefix="tcns-heavy-")
        path = Path(workdir) / "heavy.db"
    else:
        path = args.db
    if args.reuse:
        if not path.exists():
            raise SystemExit("--reuse needs an existing --db")
        with sqlite3.connect(path) as conn:
            members = conn.execute("SELECT COUNT(*) FROM members WHERE role IN ('member', 'leader')").fetchone()[0]
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        build(path, members, villages, reports)
    try:
        print(f"\nmember's message latency (through the engine, every {args.interval:.0f} ms):", flush=True)
        results = asyncio.run(measure(path, members, args.interval / 1000, args.rate, args.pages, only))
        memory = None
        if "memory" in only:
            print("\nexport memory (a process of its own):", flush=True)
            child = subprocess.run([sys.executable, __file__, "--export-memory", "--db", str(path)],
                                   capture_output=True, text=True, check=True, cwd=ROOT)
            memory = json.loads(child.stdout.strip().splitlines()[-1])
            print(f"  year's XLSX of {memory['rows']:,} rows: {memory['bytes'] / 2**20:.1f} MB "
                  f"in {memory['seconds']:.1f} s; peak RSS {memory['peak_mb']:.0f} MB "
                  f"(the interpreter and imports before it: {memory['before_mb']:.0f} MB)")
        baseline = results[0][1]
        print("\nsummary (goal: a member's message at most 200 ms slower than idle; export under 300 MB):")
        met = True
        for label, stats, _ in results[1:]:
            extra_p95, extra_worst = stats.p95 - baseline.p95, stats.worst - baseline.worst
            ok = extra_worst <= GOAL_EXTRA_MS
            met &= ok
            print(f"  {label:<34} p95 {extra_p95:+7.1f} ms, worst {extra_worst:+7.1f} ms vs idle  "
                  f"{'met' if ok else 'NOT met'}  ({stats.worst_at()})")
        ok = True
        if memory is not None:
            ok = memory["peak_mb"] < GOAL_EXPORT_MB
            print(f"  {'export peak memory':<34} {memory['peak_mb']:.0f} MB  {'met' if ok else 'NOT met'}")
        print(f"goals {'met' if met and ok else 'NOT met'}")
    finally:
        if workdir:
            for name in os.listdir(workdir):
                os.unlink(os.path.join(workdir, name))
            os.rmdir(workdir)


if __name__ == "__main__":
    main()
