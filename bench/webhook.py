"""Webhook benchmark: text reports posted over real HTTP to ``tcns serve``.

Each case starts the real ``tcns serve`` (a subprocess, uvicorn, the real PTB Application,
the replies going to the local fake Bot API of tests/support) on a fresh database seeded with
``--members`` members, posts ``--reports`` Telegram updates (one text report each, from
different members) to ``/webhook/telegram`` with ``--concurrency`` requests in flight, and
times until every report is recorded in the database (not just answered 200) and answered.
Cases, in the same run:

    bare        a bare ASGI app (Starlette on uvicorn, 1 worker) on the same PostgreSQL: one
                INSERT per update (autocommit, durable) and a 200: the baseline
    pg-1        tcns serve --workers 1 on PostgreSQL
    pg-2        tcns serve --workers 2 on PostgreSQL
    sqlite-1    tcns serve --workers 1 on a SQLite file

Prints reports/s per case and the ratio to the bare app. Goal (issue 14): ratio >= 0.5 with
one worker, two workers faster than one.

    python bench/webhook.py [--reports 3000] [--members 300] [--concurrency 32]

PostgreSQL: ``TCNS_TEST_POSTGRES`` names a server (a user that may create databases), else a
throwaway one from pgserver is started, as the tests do.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "tests"))  # support: the fake Bot API, the throwaway PostgreSQL

SECRET = "bench-webhook-secret"
TOKEN = "123:BENCH"
FIRST_USER = 50_000
SERVICES = ("vneid", "cks", "dvc", "ssk", "kns", "ttkdtm")


# -- databases and seeds ----------------------------------------------------------------------
async def new_postgres() -> str:
    from support.postgres import _admin, database_url, server_url

    server = await asyncio.to_thread(server_url)
    name = f"tcns_bench_{uuid.uuid4().hex[:10]}"
    await _admin(server, f'CREATE DATABASE "{name}"')
    return database_url(server, name)


async def seed(url: str, members: int) -> None:
    from bot.runtime.backend import database_from_url

    db = await database_from_url(url).open()
    now = datetime.now(UTC)
    try:
        async with db.uow() as uow:
            province = await uow.units.add("province", "P", "Tỉnh")
            commune = await uow.units.add("commune", "XA-WEB", "Xã Thử", province.id)
            villages = [await uow.units.add("village", f"V{i}", f"Thôn {i}", commune.id, 300, 800) for i in range(30)]
            for i in range(members):
                member = await uow.members.add(f"TV {i}", "member", villages[i % len(villages)].id, now)
                uid = str(FIRST_USER + i)
                await uow.members.link_identity(member.id, "telegram", uid, uid, now)
    finally:
        await db.close()


async def count_reports(url: str) -> int:
    from bot.runtime.backend import database_from_url

    db = await database_from_url(url).open(migrate=False)
    try:
        async with db.uow() as uow:
            row = await uow.inbox.db.fetchone("SELECT COUNT(*) FROM reports WHERE voided_at IS NULL")
            return int(row[0]) if row else 0
    finally:
        await db.close()


def updates(count: int, members: int, first_id: int = 1) -> list[dict[str, Any]]:
    """One text report per update; a member's counts never repeat (a repeat would be asked about)."""
    out = []
    for n in range(count):
        user = FIRST_USER + n % members
        text = f"{SERVICES[(n // members) % len(SERVICES)]} {n // members + 1}"
        chat = {"id": user, "type": "private", "first_name": "TV"}
        out.append({"update_id": first_id + n, "message": {
            "message_id": first_id + n, "date": int(time.time()), "text": text, "chat": chat,
            "from": {"id": user, "is_bot": False, "first_name": "TV"}}})
    return out


# -- the servers ------------------------------------------------------------------------------
BARE_APP = '''
import contextlib, json, os, asyncpg
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
pool = None
@contextlib.asynccontextmanager
async def lifespan(app):
    global pool
    pool = await asyncpg.create_pool(os.environ["BARE_DB"], min_size=1, max_size=10)
    await pool.execute("CREATE TABLE IF NOT EXISTS bare_updates (update_id BIGINT PRIMARY KEY, payload TEXT)")
    yield
    await pool.close()
async def hook(request):
    body = await request.body()
    update_id = json.loads(body)["update_id"]
    await pool.execute("INSERT INTO bare_updates VALUES ($1, $2) ON CONFLICT DO NOTHING", update_id, body.decode())
    return Response(status_code=200)
app = Starlette(routes=[Route("/webhook/telegram", hook, methods=["POST"])], lifespan=lifespan)
'''


async def wait_healthy(url: str, path: str, process: asyncio.subprocess.Process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"server exited with {process.returncode}")
            try:
                if (await client.request("GET" if path == "/healthz" else "POST", url + path)).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError("server did not start")


def serve_env(db: str, api: Any, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TCNS_", "TELEGRAM_", "ZALO_"))}
    env.update(TCNS_DB=db, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=api.base_url,
               TELEGRAM_FILE_BASE_URL=api.base_file_url, TELEGRAM_WEBHOOK_SECRET=SECRET,
               TCNS_PUBLIC_URL=f"http://127.0.0.1:{port}", TCNS_LOG_FORMAT="json", PYTHONPATH=str(ROOT),
               TELEGRAM_RATE_LIMIT="false")  # the fake Bot API has no flood limits to respect
    return env


async def start_tcns(db: str, api: Any, port: int, workers: int, workdir: Path,
                     log: Path) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "serve", "--port", str(port), "--workers", str(workers),
        env=serve_env(db, api, port), cwd=workdir, stdout=asyncio.subprocess.DEVNULL, stderr=log.open("wb"))
    await wait_healthy(f"http://127.0.0.1:{port}", "/healthz", process)
    return process


async def start_bare(db: str, port: int, workdir: Path) -> asyncio.subprocess.Process:
    (workdir / "bare_app.py").write_text(BARE_APP)
    env = dict(os.environ, BARE_DB=db)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "uvicorn", "bare_app:app", "--port", str(port), "--no-access-log",
        "--log-level", "warning", env=env, cwd=workdir)
    await wait_healthy(f"http://127.0.0.1:{port}", "/nothing", process)
    return process


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()


# -- the load ---------------------------------------------------------------------------------
async def post_all(base: str, batch: list[dict[str, Any]], concurrency: int) -> int:
    """Post every update (again after a connection error or a 5xx, as Telegram does); the 200s."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for update in batch:
        queue.put_nowait(update)
    ok = 0
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    import json

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal ok
        while not queue.empty():
            update = queue.get_nowait()
            body = json.dumps(update)
            while True:
                try:
                    answer = await client.post(base + "/webhook/telegram", content=body, headers=headers)
                    if answer.status_code == 200:
                        ok += 1
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return ok


async def until(check: Callable[[], Awaitable[bool]], timeout: float, every: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(every)
    return False


async def tcns_case(name: str, db: str, workers: int, args: argparse.Namespace, workdir: Path) -> float:
    from support.fakebotapi import FakeBotApi
    from support.serve import free_port

    await seed(db, args.members)
    port = free_port()
    batch = updates(args.reports, args.members)
    async with FakeBotApi() as api:
        for i in range(args.members):
            api.user(FIRST_USER + i, first_name="TV")
        process = await start_tcns(db, api, port, workers, workdir, workdir / f"{name}.log")
        try:
            warm = updates(args.members, args.members, first_id=10_000_000)  # each member's first message
            for update in warm:
                update["message"]["text"] = "/help"
            await post_all(f"http://127.0.0.1:{port}", warm, args.concurrency)
            await until(lambda: asyncio.sleep(0, len(api.calls_to("sendMessage")) >= len(warm)), 60)
            sent_before = len(api.calls_to("sendMessage"))
            started = time.monotonic()
            await post_all(f"http://127.0.0.1:{port}", batch, args.concurrency)
            posted = time.monotonic() - started

            async def done() -> bool:
                return len(api.calls_to("sendMessage")) - sent_before >= len(batch)

            finished = await until(done, 300)
            elapsed = time.monotonic() - started
        finally:
            await stop(process)
    print(f"  {name}: all {len(batch)} answered 200 in {posted:.1f} s, all replied in {elapsed:.1f} s", flush=True)
    recorded = await count_reports(db)
    if not finished or recorded != len(batch):
        print(f"  {name}: {recorded} of {len(batch)} recorded (answered: {finished})", file=sys.stderr)
    return len(batch) / elapsed


async def bare_case(db: str, args: argparse.Namespace, workdir: Path) -> float:
    from support.serve import free_port

    port = free_port()
    process = await start_bare(db, port, workdir)
    try:
        batch = updates(args.reports, args.members)
        started = time.monotonic()
        await post_all(f"http://127.0.0.1:{port}", batch, args.concurrency)
        elapsed = time.monotonic() - started
    finally:
        await stop(process)
    return len(batch) / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=3000)
    parser.add_argument("--members", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--only", nargs="*", default=["bare", "pg-1", "pg-2", "sqlite-1"])
    args = parser.parse_args()
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="tcns-webhook-") as folder:
        workdir = Path(folder)
        for case in args.only:
            if case == "bare":
                results[case] = await bare_case(await new_postgres(), args, workdir)
            elif case.startswith("pg-"):
                results[case] = await tcns_case(case, await new_postgres(), int(case[3:]), args, workdir)
            elif case == "sqlite-1":
                results[case] = await tcns_case(case, str(workdir / "tcns.db"), 1, args, workdir)
            print(f"{case:>9}: {results[case]:8.0f} reports/s", flush=True)
    print(f"\n{args.reports} text reports over HTTP, {args.concurrency} requests in flight, {os.cpu_count()} cores")
    bare = results.get("bare")
    for case, rate in results.items():
        ratio = f"{rate / bare:5.2f}x bare" if bare else ""
        print(f"  {case:>9}  {rate:8.0f} reports/s  {ratio}")


if __name__ == "__main__":
    asyncio.run(main())
