"""Kill -9 one of two ``tcns serve`` workers under load: nothing lost, nothing doubled, the
scheduler fails over.

``tcns serve --workers 2`` on a fresh PostgreSQL database; ``--reports`` Telegram text reports
(each a distinct figure of a distinct member) are posted to ``/webhook/telegram`` with
``--concurrency`` requests in flight; a request that fails (its worker was killed) is posted
again, as Telegram redelivers what it got no 200 for. A third of the way in, the worker that
holds the scheduler lease is killed with SIGKILL; uvicorn's supervisor starts a new one.
Printed: reports acknowledged, recorded, lost (acknowledged and never recorded), doubled
(recorded twice), the seconds until another worker held the scheduler lease, and until the
killed worker's replacement served.

    python bench/workers.py [--reports 2000] [--members 200] [--concurrency 16]

Goal (issue 14): 0 lost, 0 doubled, failover within a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "bench"))
sys.path.append(str(ROOT / "tests"))

from webhook import (  # noqa: E402 - bench/webhook.py: the same seed, updates and load
    FIRST_USER,
    new_postgres,
    post_all,
    seed,
    start_tcns,
    stop,
    until,
    updates,
)


async def leases(url: str) -> dict[str, str]:
    from bot.runtime.backend import database_from_url

    db = await database_from_url(url).open(migrate=False)
    try:
        async with db.uow() as uow:
            rows = await uow.inbox.db.fetchall("SELECT name, holder FROM leases WHERE expires_at > ?", (time.time(),))
        return {str(r[0]): str(r[1]) for r in rows}
    finally:
        await db.close()


async def recorded(url: str) -> tuple[int, int]:
    """(reports, distinct reports) by member, service and figure: each update made one."""
    from bot.runtime.backend import database_from_url

    db = await database_from_url(url).open(migrate=False)
    try:
        async with db.uow() as uow:
            row = await uow.inbox.db.fetchone(
                "SELECT COUNT(*), COUNT(DISTINCT (member_id, service, count)) FROM reports WHERE voided_at IS NULL")
        return int(row[0]), int(row[1])  # type: ignore[index]
    finally:
        await db.close()


def pid_of(holder: str) -> int:
    return int(holder.split("-", 1)[0])


async def main() -> None:
    from support.fakebotapi import FakeBotApi
    from support.serve import free_port

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    url = await new_postgres()
    await seed(url, args.members)
    batch = updates(args.reports, args.members)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="tcns-workers-") as folder:
        workdir = Path(folder)
        async with FakeBotApi() as api:
            for i in range(args.members):
                api.user(FIRST_USER + i, first_name="TV")
            process = await start_tcns(url, api, port, 2, workdir, workdir / "serve.log")
            try:
                await until(lambda: _workers(url, 2), 60)
                before = await leases(url)
                holder = before["scheduler"]
                started = time.monotonic()
                load = asyncio.create_task(post_all(f"http://127.0.0.1:{port}", batch, args.concurrency))
                await until(lambda: _count_at_least(url, args.reports // 3), 300)
                os.kill(pid_of(holder), signal.SIGKILL)
                killed = time.monotonic()
                print(f"killed worker {pid_of(holder)} (scheduler lease holder) after "
                      f"{killed - started:.1f} s of load", flush=True)

                async def failed_over() -> bool:
                    now = await leases(url)
                    return now.get("scheduler", holder) != holder

                pids = {pid_of(h) for n, h in before.items() if n.startswith("worker:")} - {pid_of(holder)}

                async def replaced() -> bool:
                    now = {pid_of(h) for n, h in (await leases(url)).items() if n.startswith("worker:")}
                    return bool(now - pids - {pid_of(holder)})

                async def seconds(check) -> float | None:  # type: ignore[no-untyped-def]
                    return time.monotonic() - killed if await until(check, 120, every=0.5) else None

                failover, replacement = await asyncio.gather(seconds(failed_over), seconds(replaced))
                acknowledged = await load
                await until(lambda: _count_at_least(url, args.reports), 180, every=0.5)
                total, distinct = await recorded(url)
                elapsed = time.monotonic() - started
            finally:
                await stop(process)
    print(f"\n{args.reports} reports posted to tcns serve --workers 2 (PostgreSQL) in {elapsed:.1f} s, one worker "
          "killed -9 mid-load")
    print(f"  acknowledged (200): {acknowledged}")
    print(f"  recorded:           {total}")
    print(f"  lost:               {args.reports - distinct}")
    print(f"  doubled:            {total - distinct}")
    print(f"  scheduler failover: {f'{failover:.1f} s' if failover is not None else 'NONE within 120 s'}")
    print(f"  worker replaced:    {f'{replacement:.1f} s' if replacement is not None else 'NO'}")


async def _workers(url: str, count: int) -> bool:
    return sum(1 for name in await leases(url) if name.startswith("worker:")) >= count and \
        "scheduler" in await leases(url)


async def _count_at_least(url: str, count: int) -> bool:
    return (await recorded(url))[0] >= count


if __name__ == "__main__":
    asyncio.run(main())
