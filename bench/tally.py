"""Tally benchmark: commune and province tallies and the XLSX export at national volume.

Builds a SQLite database with the real schema (every migration): 34 provinces, 3,321
communes, 100,000 villages (one member each) and, by default, 40 million reports over
the year 2026 (2% of them voided), inserted day by day as they would arrive. Then it
times, through the real storage stack (aiosqlite, unit of work, repositories):

* the commune ``/thang`` tally (this month, the previous one, year-to-date coverage
  against targets: every village of the timed commune has targets);
* the province-wide monthly tally (about 3,000 villages);
* the XLSX export of one commune (tally, daily series, report detail, openpyxl).

To show that tally time does not grow with reports outside the period, the database is
first filled with the first half of the year and timed for March, then filled with the
second half (twice the rows) and timed for March again.

    python bench/tally.py            # 40M reports, 100,000 villages (several minutes, ~6 GB on disk)
    python bench/tally.py --quick    # 2M reports, 10,000 villages
    python bench/tally.py --reports 10000000 --villages 100000 --db /tmp/tally.db

Goals (issue 3): commune tally < 50 ms, province tally < 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.content import load_content
from bot.domain.periods import month
from bot.services.export import gather, to_xlsx
from bot.services.tallies import build_tally
from storage.sqlite.database import SqliteDatabase

PROVINCES = 34
SERVICES = ("vneid", "chu_ky_so", "thanh_toan", "dich_vu_cong", "so_suc_khoe", "ky_nang_so")
YEAR = 2026
VILLAGE_BASE = 1_000_000  # village ids start here; commune ids at 10,000; provinces at 1
COMMUNE_BASE = 10_000
NOW = datetime(YEAR, 12, 31, 12, tzinfo=UTC)
TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def build_units(conn: sqlite3.Connection, communes: int, villages: int) -> None:
    conn.executemany(
        "INSERT INTO units (id, kind, parent_id, code, name) VALUES (?, 'province', NULL, ?, ?)",
        [(p + 1, f"P{p:02d}", f"Tỉnh {p:02d}") for p in range(PROVINCES)],
    )
    conn.executemany(
        "INSERT INTO units (id, kind, parent_id, code, name) VALUES (?, 'commune', ?, ?, ?)",
        [(COMMUNE_BASE + c, c % PROVINCES + 1, f"XA-{c:04d}", f"Xã {c:04d}") for c in range(communes)],
    )
    conn.executemany(
        "INSERT INTO units (id, kind, parent_id, code, name, households, adults) VALUES (?, 'village', ?, ?, ?, ?, ?)",
        [(VILLAGE_BASE + v, COMMUNE_BASE + v % communes, f"T{v:06d}", f"Thôn {v:06d}", 300 + v % 200, 900)
         for v in range(villages)],
    )
    conn.executemany(
        "INSERT INTO members (id, name, role, unit_id, created_at) VALUES (?, ?, 'member', ?, '2026-01-01T00:00:00')",
        [(v + 1, f"Thành viên {v}", VILLAGE_BASE + v) for v in range(villages)],
    )
    # Targets for every village of the timed commune (XA-0000).
    conn.executemany(
        "INSERT INTO targets (unit_id, service, year, kind, value, updated_at) VALUES (?, ?, ?, 'percent', 80, 'x')",
        [(VILLAGE_BASE + v, s, YEAR) for v in range(0, villages, communes) for s in SERVICES],
    )


def add_days(conn: sqlite3.Connection, first_day: int, last_day: int, per_day: int, villages: int) -> None:
    """Reports for days ``first_day``..``last_day`` of the year, ``per_day`` each, generated in SQL."""
    service = "CASE i % 6 " + " ".join(f"WHEN {n} THEN '{s}'" for n, s in enumerate(SERVICES)) + " END"
    sql = (
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1) "
        "INSERT INTO reports (batch_id, member_id, village_id, service, count, occurred_on, created_at, source, "
        "voided_at, voided_by, void_reason) "
        f"SELECT 'b' || ?1 || '-' || i, v + 1, {VILLAGE_BASE} + v, {service}, 1 + i % 5, ?2, ?2 || 'T10:00:00', "
        "'text', CASE WHEN i % 50 = 0 THEN ?2 || 'T11:00:00' END, CASE WHEN i % 50 = 0 THEN v + 1 END, "
        "CASE WHEN i % 50 = 0 THEN 'member_undo' END "
        f"FROM (SELECT i, (i * 7919 + ?1 * 104729) % {villages} AS v FROM n)"
    )
    sql = sql.replace("i < ? - 1", "i < ?3 - 1")
    for day in range(first_day, last_day + 1):
        on = date.fromordinal(date(YEAR, 1, 1).toordinal() + day).isoformat()
        conn.execute(sql, (day, on, per_day))
        if day % 30 == 29:
            conn.commit()
    conn.commit()


async def timed(label: str, make, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        await make()
        times.append((time.perf_counter() - start) * 1000)
    best, median = min(times), statistics.median(times)
    print(f"  {label:<34} median {median:8.1f} ms   best {best:8.1f} ms")
    return median


async def measure(path: Path, communes: int, repeat: int) -> dict[str, float]:
    content = load_content()
    codes = content.catalogue.codes
    db = await SqliteDatabase(str(path)).open()
    period = month(YEAR, 3)
    try:
        async with db.uow() as uow:
            commune = await uow.units.by_code("commune", "XA-0000")
            province = await uow.units.by_code("province", "P00")
        assert commune is not None and province is not None
        results = {}

        async def commune_tally() -> None:
            async with db.uow() as uow:
                tally = await build_tally(uow, commune, period, codes, NOW)
            assert tally.total > 0

        async def province_tally() -> None:
            async with db.uow() as uow:
                tally = await build_tally(uow, province, period, codes, NOW)
            assert len(tally.villages) > 1000 or communes < 1000

        async def export() -> None:
            async with db.uow() as uow:
                tally = await build_tally(uow, commune, period, codes, NOW)
                data = await gather(uow, tally)
            assert to_xlsx(data, content, TZ)

        await commune_tally()  # warm the page cache once, as a running bot would be
        results["commune"] = await timed("commune /thang tally (March)", commune_tally, repeat)
        results["province"] = await timed("province monthly tally (March)", province_tally, max(3, repeat // 4))
        results["export"] = await timed("commune XLSX export (March)", export, max(3, repeat // 4))
        return results
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2M reports over 10,000 villages")
    parser.add_argument("--reports", type=int, default=None, help="reports in the year (default 40,000,000)")
    parser.add_argument("--villages", type=int, default=None, help="villages (default 100,000)")
    parser.add_argument("--communes", type=int, default=3321)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--db", type=Path, default=None, help="database file (default: a temporary one)")
    parser.add_argument("--reuse", action="store_true", help="time the existing --db as it is, building nothing")
    args = parser.parse_args()
    if args.reuse:
        if args.db is None or not args.db.exists():
            raise SystemExit("--reuse needs an existing --db")
        with sqlite3.connect(args.db) as conn:
            rows = conn.execute("SELECT MAX(id) FROM reports").fetchone()[0]
            communes = conn.execute("SELECT COUNT(*) FROM units WHERE kind = 'commune'").fetchone()[0]
        print(f"{args.db}: {rows:,} reports, {args.db.stat().st_size / 2**30:.2f} GiB (reused)")
        asyncio.run(measure(args.db, communes, args.repeat))
        return
    reports = args.reports or (2_000_000 if args.quick else 40_000_000)
    villages = args.villages or (10_000 if args.quick else 100_000)
    communes = min(args.communes, villages) if not args.quick else min(args.communes, 333)
    per_day = reports // 365
    workdir = None
    if args.db is None:
        workdir = tempfile.mkdtemp(prefix="tcns-bench-")
        path = Path(workdir) / "tally.db"
    else:
        path = args.db
        if path.exists():
            path.unlink()

    asyncio.run(_migrate(path))
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -4000000")  # 4 GB while building
    build_units(conn, communes, villages)
    conn.commit()
    print(f"{villages:,} villages in {communes:,} communes, {per_day * 365:,} reports in {YEAR} "
          f"({per_day:,}/day, ~{per_day * 365 // villages} per village), 2% voided")

    results = []
    for label, first, last in (("first half of the year", 0, 180), ("whole year", 181, 364)):
        start = time.perf_counter()
        add_days(conn, first, last, per_day, villages)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rows = conn.execute("SELECT MAX(id) FROM reports").fetchone()[0]
        size = path.stat().st_size / 2**30
        print(f"\n{label}: {rows:,} reports, {size:.2f} GiB (built in {time.perf_counter() - start:.0f} s)")
        results.append((rows, asyncio.run(measure(path, communes, args.repeat))))
    conn.close()

    (small_rows, small), (big_rows, big) = results
    print(f"\nsame period (March), {big_rows / small_rows:.1f}x the reports in the database:")
    for key in ("commune", "province", "export"):
        print(f"  {key:<10} {small[key]:8.1f} ms -> {big[key]:8.1f} ms  (ratio {big[key] / small[key]:.2f})")
    print(f"goals: commune < 50 ms ({'met' if big['commune'] < 50 else 'NOT met'}), "
          f"province < 300 ms ({'met' if big['province'] < 300 else 'NOT met'})")
    if workdir:
        for name in os.listdir(workdir):
            os.unlink(os.path.join(workdir, name))
        os.rmdir(workdir)


async def _migrate(path: Path) -> None:
    db = await SqliteDatabase(str(path)).open()
    await db.close()


if __name__ == "__main__":
    main()
