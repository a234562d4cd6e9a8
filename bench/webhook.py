"""Webhook benchmark: text reports posted over real HTTP to ``tcns serve``.

Each case starts the real ``tcns serve`` (a subprocess, uvicorn, the real PTB Application,
the replies going to the local fake Bot API of tests/support) on a fresh database seeded with
``--members`` members, posts ``--reports`` Telegram updates (one text report each, from
different members) to ``/webhook/telegram`` with ``--concurrency`` requests in flight, and
times until every report is recorded in the database and its reply has reached the fake Bot
API. Cases, in the same run:

    bare        a bare ASGI app (Starlette on uvicorn, 1 worker) on the same PostgreSQL: an
                asyncpg pool, one INSERT per update (autocommit, durable) and a 200: the baseline
    pg-1        tcns serve --workers 1 on PostgreSQL
    pg-2        tcns serve --workers 2 on PostgreSQL
    sqlite-1    tcns serve --workers 1 on a SQLite file

What is measured. ``reports/s`` is the whole job: posted, stored before the 200, handled by
the engine (the report recorded with its roll-up, the conversation saved) and answered. The
bare app's job ends at its 200, which is all it does. Each case also prints the rate of the
200s alone (what Telegram waits for) and the CPU each process spent per report: the client
with the fake Bot API, the server (every worker), and PostgreSQL (every backend and its
helpers); the last table sets those totals side by side. Both sides get the same client
(aiohttp, one connection per request in flight), the same uvicorn (uvloop and httptools,
as tcns declares them) and a warm-up.

Telegram's flood limits are off for the replies (``TELEGRAM_RATE_LIMIT=false``): the fake has
none, and with them on every reply waits for Telegram's budget of about 30 messages a second
whatever the server does, which would time the channel rather than the server. The outbox's
budget for pushes (reminders, broadcasts) is not involved: replies to a report are sent
directly.

Prints reports/s per case and the ratio to the bare app. Goal (issue 14): ratio >= 0.5 with
one worker, two workers faster than one.

    python bench/webhook.py [--reports 3000] [--members 300] [--concurrency 32] [--rounds 3]

Every case runs ``--rounds`` times, the cases in turn (bare, pg-1, pg-2, sqlite-1, bare, ...):
this machine's speed drifts by half within a minute, so one round compares cases run seconds
apart, and the figures to quote are the medians (printed last: each case's reports/s, and the
median of each round's ratios, with the rounds that had two workers faster than one).

PostgreSQL: ``TCNS_TEST_POSTGRES`` names a server (a user that may create databases), else a
throwaway one from pgserver is started, as the tests do. The figures depend on what else the
machine runs: the ratio is the one to compare, and the CPU per report says where time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "tests"))  # support: the fake Bot API, the throwaway PostgreSQL

SECRET = "bench-webhook-secret"
TOKEN = "123:BENCH"
FIRST_USER = 50_000
SERVICES = ("vneid", "cks", "dvc", "ssk", "kns", "ttkdtm")


# -- CPU per process ------------------------------------------------------------------------
TICK = os.sysconf("SC_CLK_TCK")


def _processes() -> dict[int, tuple[int, float, str]]:
    """Every process: (parent, CPU seconds so far, command line)."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as stat, open(f"/proc/{name}/cmdline", "rb") as cmd:
                fields = stat.read().rsplit(")", 1)[1].split()
                out[int(name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK,
                                  cmd.read().replace(b"\0", b" ").decode(errors="replace"))
        except (OSError, IndexError, ValueError):
            pass  # gone meanwhile
    return out


def tree_cpu(root: int | None) -> dict[int, float]:
    """CPU seconds of ``root`` and all its descendants, per process."""
    procs = _processes()
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in procs.items():
        children.setdefault(parent, []).append(pid)
    out, todo = {}, [root] if root is not None else []
    while todo:
        pid = todo.pop()
        if pid in procs:
            out[pid] = procs[pid][1]
        todo.extend(children.get(pid, []))
    return out


def postmaster(folder: str | None) -> int | None:
    """The PostgreSQL server whose data folder is ``folder`` (its backends are its children)."""
    if not folder:
        return None
    for pid, (_, _, cmd) in _processes().items():
        if cmd.split(" ", 1)[0].endswith("postgres") and f"-D {folder}" in cmd:
            return pid
    return None


@dataclass
class Cpu:
    """CPU spent since :meth:`start`, per side: this process (the client and the fake Bot API),
    the server's process tree, PostgreSQL's."""

    server: int
    pg: int | None

    def start(self) -> Cpu:
        self._me, self._server, self._pg = time.process_time(), tree_cpu(self.server), tree_cpu(self.pg)
        return self

    def per_report(self, reports: int) -> tuple[str, float]:
        """What was spent per report, said, and the total in milliseconds."""
        def used(before: dict[int, float], after: dict[int, float]) -> float:
            return sum(after.values()) - sum(before.get(pid, 0.0) for pid in after)
        me = time.process_time() - self._me
        server, pg = used(self._server, tree_cpu(self.server)), used(self._pg, tree_cpu(self.pg))
        ms = [1000 * x / reports for x in (me, server, pg)]
        return (f"CPU per report: client{'+fake' if self.fake else ''} {ms[0]:.2f} ms, server {ms[1]:.2f} ms, "
                f"PostgreSQL {ms[2]:.2f} ms, total {sum(ms):.2f} ms"), sum(ms)

    fake: bool = False


# -- databases and seeds ----------------------------------------------------------------------
PG_FOLDER: list[str] = []  # the server's data folder, once known (for its CPU)


async def new_postgres() -> str:
    from support.postgres import _admin, database_url, server_url

    server = await asyncio.to_thread(server_url)
    if not PG_FOLDER:  # a unix socket in the data folder (pgserver), else a server we cannot see
        PG_FOLDER.extend(parse_qs(urlsplit(server).query).get("host", [""])[:1])
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
    pool = await asyncpg.create_pool(os.environ["BARE_DB"], min_size=10, max_size=10)
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
    async with aiohttp.ClientSession() as client:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"server exited with {process.returncode}")
            try:
                async with client.request("GET" if path == "/healthz" else "POST", url + path) as answer:
                    if answer.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError("server did not start")


GATHER_MS: list[str] = []  # --gather-ms, for tcns serve (else its default)


def serve_env(db: str, api: Any, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TCNS_", "TELEGRAM_", "ZALO_"))}
    env.update(TCNS_DB=db, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=api.base_url,
               TELEGRAM_FILE_BASE_URL=api.base_file_url, TELEGRAM_WEBHOOK_SECRET=SECRET,
               TCNS_PUBLIC_URL=f"http://127.0.0.1:{port}", TCNS_LOG_FORMAT="json", PYTHONPATH=str(ROOT),
               TELEGRAM_RATE_LIMIT="false")  # the fake Bot API has no flood limits to respect
    if GATHER_MS:
        env["TCNS_WEBHOOK_GATHER_MS"] = GATHER_MS[0]
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
ANSWERED: list[int] = []  # chats whose reply came back in the webhook's answer (Telegram would send it)


async def post_all(base: str, batch: list[dict[str, Any]], concurrency: int) -> int:
    """Post every update (again after a connection error or a 5xx, as Telegram does); the 200s.
    A reply in the answer's body (``sendMessage`` for the update's chat) is counted in
    :data:`ANSWERED`: Telegram would send it, as the fake Bot API counts the others.

    aiohttp with ``concurrency`` kept-alive connections: a client cheap enough (well under a
    millisecond of CPU a request) not to be what is measured; httpx cost 8 ms a request here."""
    bodies = [(json.dumps(update).encode(), update["message"]["chat"]["id"]) for update in reversed(batch)]
    ok = 0
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    url = base + "/webhook/telegram"

    async def worker(client: aiohttp.ClientSession) -> None:
        nonlocal ok
        while bodies:
            body, chat = bodies.pop()
            while True:
                try:
                    async with client.post(url, data=body, headers=headers) as answer:
                        said = await answer.read()
                        if answer.status == 200:
                            ok += 1
                            if said:
                                call = json.loads(said)
                                if call.get("method") == "sendMessage" and call.get("chat_id") == chat:
                                    ANSWERED.append(chat)
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return ok


async def until(check: Callable[[], Awaitable[bool]], timeout: float, every: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(every)
    return False


@dataclass(frozen=True)
class Result:
    rate: float  # reports/s, the whole job
    acked: float  # 200s/s
    cpu: float  # milliseconds of CPU per report, every process of the case
    group: float = 0.0  # updates per webhook group (one transaction, one commit): tcns only


async def groups(base: str) -> tuple[float, float]:
    """The webhook groups so far, from /metrics (every worker's): updates in them, and groups."""
    async with aiohttp.ClientSession() as client, client.get(base + "/metrics") as answer:
        text = await answer.text()
    found = {}
    for line in text.splitlines():
        for part in ("sum", "count"):
            if line.startswith(f'tcns_webhook_group_updates_{part}{{channel="telegram"}}'):
                found[part] = float(line.rsplit(" ", 1)[1])
    return found.get("sum", 0.0), found.get("count", 0.0)


def warm_up(members: int) -> list[dict[str, Any]]:
    """Each member's first message (``/help``), before the clock starts."""
    warm = updates(members, members, first_id=10_000_000)
    for update in warm:
        update["message"]["text"] = "/help"
    return warm


async def tcns_case(name: str, db: str, workers: int, args: argparse.Namespace, workdir: Path) -> Result:
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
            warm = warm_up(args.members)
            await post_all(f"http://127.0.0.1:{port}", warm, args.concurrency)
            await until(lambda: asyncio.sleep(0, len(api.calls_to("sendMessage")) + len(ANSWERED) >= len(warm)), 60)
            sent_before = len(api.calls_to("sendMessage")) + len(ANSWERED)
            grouped = await groups(f"http://127.0.0.1:{port}")
            cpu = Cpu(process.pid, postmaster(PG_FOLDER[0]) if db.startswith("postgres") and PG_FOLDER else None,
                      fake=True).start()
            started = time.monotonic()
            await post_all(f"http://127.0.0.1:{port}", batch, args.concurrency)
            posted = time.monotonic() - started

            async def done() -> bool:
                return len(api.calls_to("sendMessage")) + len(ANSWERED) - sent_before >= len(batch)

            finished = await until(done, 300)
            elapsed = time.monotonic() - started
            spent, total = cpu.per_report(len(batch))
            updates_in, count = (after - before for after, before in
                                 zip(await groups(f"http://127.0.0.1:{port}"), grouped, strict=True))
        finally:
            await stop(process)
    group = updates_in / count if count else 0.0
    print(f"  {name}: all {len(batch)} answered 200 in {posted:.1f} s, all recorded and replied in {elapsed:.1f} s;"
          f" {spent}; {group:.1f} updates per group", flush=True)
    recorded = await count_reports(db)
    if not finished or recorded != len(batch):
        print(f"  {name}: {recorded} of {len(batch)} recorded (answered: {finished})", file=sys.stderr)
    return Result(len(batch) / elapsed, len(batch) / posted, total, group)


async def bare_case(db: str, args: argparse.Namespace, workdir: Path) -> Result:
    from support.serve import free_port

    port = free_port()
    process = await start_bare(db, port, workdir)
    try:
        await post_all(f"http://127.0.0.1:{port}", warm_up(args.members), args.concurrency)
        batch = updates(args.reports, args.members)
        cpu = Cpu(process.pid, postmaster(PG_FOLDER[0]) if PG_FOLDER else None).start()
        started = time.monotonic()
        await post_all(f"http://127.0.0.1:{port}", batch, args.concurrency)
        elapsed = time.monotonic() - started
        spent, total = cpu.per_report(len(batch))
    finally:
        await stop(process)
    print(f"  bare: all {len(batch)} stored and answered 200 in {elapsed:.1f} s; {spent}", flush=True)
    return Result(len(batch) / elapsed, len(batch) / elapsed, total)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=3000)
    parser.add_argument("--members", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--only", nargs="*", default=["bare", "pg-1", "pg-2", "sqlite-1"])
    parser.add_argument("--rounds", type=int, default=3,
                        help="every case this many times, in turn (the figures are each case's median)")
    parser.add_argument("--gather-ms", help="TCNS_WEBHOOK_GATHER_MS for tcns serve (0: groups never wait)")
    args = parser.parse_args()
    if args.gather_ms is not None:
        GATHER_MS.append(args.gather_ms)
    rounds: list[dict[str, Result]] = []
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="tcns-webhook-") as folder:
        workdir = Path(folder)
        for number in range(1, args.rounds + 1):
            results: dict[str, Result] = {}
            for case in args.only:
                if case == "bare":
                    results[case] = await bare_case(await new_postgres(), args, workdir)
                elif case.startswith("pg-"):
                    results[case] = await tcns_case(case, await new_postgres(), int(case[3:]), args, workdir)
                elif case == "sqlite-1":
                    (workdir / "tcns.db").unlink(missing_ok=True)
                    results[case] = await tcns_case(case, str(workdir / "tcns.db"), 1, args, workdir)
                print(f"{case:>9}: {results[case].rate:8.0f} reports/s (round {number})", flush=True)
            rounds.append(results)
    report(rounds, args, load)


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def report(rounds: list[dict[str, Result]], args: argparse.Namespace, load: float) -> None:
    """Each round's reports/s and ratios, then each case's medians. The machine's speed drifts
    by half within a minute here: a round compares cases run seconds apart; the medians of
    several rounds are the figures to quote."""
    gather = f", TCNS_WEBHOOK_GATHER_MS={args.gather_ms}" if args.gather_ms is not None else ""
    print(f"\n{args.reports} text reports over HTTP, {args.concurrency} requests in flight,"
          f" {os.cpu_count()} cores{gather}, {len(rounds)} rounds, load average {load:.1f} at the start,"
          f" {os.getloadavg()[0]:.1f} at the end")
    cases = list(rounds[0])
    paired = "pg-1" in cases and "pg-2" in cases
    print("  round  " + "  ".join(f"{case:>17}" for case in cases) + ("  2 workers / 1" if paired else ""))
    for number, results in enumerate(rounds, 1):
        bare = results.get("bare")
        cells = [f"{r.rate:6.0f}/s" + (f" {r.rate / bare.rate:4.2f}x" if bare else "") for r in results.values()]
        pair = f"  {results['pg-2'].rate / results['pg-1'].rate:14.2f}" if paired else ""
        print(f"  {number:5}  " + "  ".join(f"{cell:>17}" for cell in cells) + pair)
    medians = {case: Result(*(median([getattr(r[case], field) for r in rounds])
                              for field in ("rate", "acked", "cpu", "group"))) for case in cases}
    bare = medians.get("bare")
    # The ratios are the medians of each round's (cases run seconds apart, on the machine as it was).
    ratios = {case: median([r[case].rate / r["bare"].rate for r in rounds]) for case in cases} if bare else {}
    cpu_ratios = {case: median([r["bare"].cpu / r[case].cpu for r in rounds if r[case].cpu]) for case in cases} \
        if bare else {}
    print(f"\n  medians of {len(rounds)} rounds (the ratios: medians of each round's)")
    print(f"  {'case':>9}  {'reports/s':>9}  {'ratio':>10}  {'200s/s':>7}  {'CPU ms/report':>13}  {'CPU ratio':>9}"
          f"  {'per group':>9}")
    for case, result in medians.items():
        ratio = f"{ratios[case]:5.2f}x bare" if bare else ""
        cpu_ratio = f"{cpu_ratios[case]:9.2f}" if bare and result.cpu else ""
        group = f"{result.group:9.1f}" if result.group else ""
        print(f"  {case:>9}  {result.rate:9.0f}  {ratio:>10}  {result.acked:7.0f}  {result.cpu:13.2f}  {cpu_ratio:>9}"
              f"  {group}")
    if paired:
        wins = sum(r["pg-2"].rate > r["pg-1"].rate for r in rounds)
        pairs = median([r["pg-2"].rate / r["pg-1"].rate for r in rounds])
        print(f"  2 workers / 1 worker: {pairs:.2f} (the median of each round's); 2 faster in {wins} of"
              f" {len(rounds)} rounds")
    print("  (ratio: to the bare app, the goal >= 0.5 with one worker; CPU ratio: the bare app's CPU per report\n"
          "   over the case's, every process counted: the ratio reports/s would show if both were bound by\n"
          "   these cores alone; the SQLite case has no PostgreSQL; per group: updates per webhook group, one\n"
          "   transaction and one commit each, from /metrics)")


if __name__ == "__main__":
    asyncio.run(main())
