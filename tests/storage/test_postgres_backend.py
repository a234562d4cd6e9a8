"""What only the PostgreSQL backend has: migrations applied by set under an advisory lock
(several workers starting at once), `tcns db upgrade` and `tcns backup` (pg_dump) on it.
Everything a backend must do is in the contract suite (tests/storage/test_contract_*.py)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pgserver
import pytest
from support import peek
from support.postgres import fresh_database

import storage.postgres.database as pg_module
from storage.postgres.database import PostgresDatabase
from storage.postgres.migrations import MIGRATIONS

PG_BIN = str(Path(pgserver.__file__).parent / "pginstall" / "bin")


async def _versions(url: str) -> list[int]:
    async with peek.opened(url) as db:
        return [r[0] for r in await peek.rows(db, "schema_migrations", "version", order="version")]


async def test_migrations_apply_by_set_so_a_gap_filled_later_still_runs(postgres_server: str, monkeypatch):
    every = [v for v, _ in MIGRATIONS]
    assert len(every) > 1
    gap = every[-1]  # a migration landed later, numbered lower than one already applied elsewhere
    async with fresh_database(postgres_server, migrated=False) as url:
        monkeypatch.setattr(pg_module, "MIGRATIONS", [m for m in MIGRATIONS if m[0] != gap])
        db = await PostgresDatabase(url).open()
        await db.close()
        assert await _versions(url) == [v for v in every if v != gap]
        monkeypatch.setattr(pg_module, "MIGRATIONS", MIGRATIONS)
        db = await PostgresDatabase(url).open(migrate=False)
        try:
            assert await db.upgrade() == [gap]
            assert await db.upgrade() == []
        finally:
            await db.close()
        assert await _versions(url) == every


async def test_workers_starting_at_once_migrate_once(postgres_server: str):
    async with fresh_database(postgres_server, migrated=False) as url:
        workers = [PostgresDatabase(url) for _ in range(4)]
        await asyncio.gather(*(w.open() for w in workers))  # one migrates, the others wait then find nothing
        try:
            assert await _versions(url) == [v for v, _ in MIGRATIONS]
            async with workers[3].uow() as uow:
                assert await uow.units.add("commune", "XA", "Xã A")
        finally:
            await asyncio.gather(*(w.close() for w in workers))


def _tcns(tmp_path: Path, url: str, *args: str, path: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TCNS_", "TELEGRAM_"))}
    env.update(TCNS_DB=url, PATH=path)
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=60)


@pytest.fixture
def plain_path() -> str:
    return "/usr/bin:/bin"


async def test_db_upgrade_and_backup_on_postgresql(tmp_path: Path, postgres_server: str, plain_path: str):
    async with fresh_database(postgres_server, migrated=False) as url:
        run = await asyncio.to_thread(_tcns, tmp_path, url, "db", "upgrade", path=plain_path)
        assert run.returncode == 0, run.stderr
        assert f"nay ở phiên bản {MIGRATIONS[-1][0]:04d}" in run.stdout
        again = await asyncio.to_thread(_tcns, tmp_path, url, "db", "upgrade", path=plain_path)
        assert "không có gì phải nâng cấp" in again.stdout

        no_tool = await asyncio.to_thread(_tcns, tmp_path, url, "backup", "tcns.dump", path="/nowhere")
        assert no_tool.returncode == 1 and "chưa có pg_dump" in no_tool.stderr
        dumped = await asyncio.to_thread(_tcns, tmp_path, url, "backup", "tcns.dump", path=f"{PG_BIN}:{plain_path}")
        assert dumped.returncode == 0, dumped.stderr
        assert (tmp_path / "tcns.dump").read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
        restore = await asyncio.to_thread(_tcns, tmp_path, url, "restore", "tcns.dump", "--yes", path=plain_path)
        assert restore.returncode == 1 and "pg_restore" in restore.stderr


def test_only_plain_values_are_written_into_a_simple_query() -> None:
    from storage.postgres.executor import inlined

    assert inlined("SELECT f(?, ?) -- ?", ("telegram:42", 7)) == "SELECT f('telegram:42', 7) -- ?"
    for unsafe in ("it's", "a\\b", "x; DROP TABLE reports", "Lan Trần", "a\nb", True, 1.5, None, b"x"):
        assert inlined("SELECT f(?)", (unsafe,)) is None  # sent as a parameter instead
    assert inlined("SELECT f(?)", ("",)) == "SELECT f('')"
    assert inlined("SELECT f(?, ?)", ("a",)) is None  # placeholders and values do not match


async def test_a_unit_of_work_commits_what_it_wrote_and_nothing_after_an_error(postgres_url: str) -> None:
    async with PostgresDatabase(postgres_url) as db:
        async with db.uow() as uow:  # BEGIN goes with the first statement, written in
            assert await uow.executor.execute("SELECT pg_advisory_xact_lock(hashtext(?))", ("telegram:1",)) == 1
            await uow.executor.execute("INSERT INTO schema_migrations VALUES (?, ?)", (990001, "a"))
        with pytest.raises(ZeroDivisionError):
            async with db.uow() as uow:  # BEGIN on its own: the value is not plain
                await uow.executor.execute("INSERT INTO schema_migrations VALUES (?, ?)", (990002, "it's"))
                raise ZeroDivisionError
        async with db.uow() as uow:
            rows = await uow.executor.fetchall("SELECT version FROM schema_migrations WHERE version > 990000")
            assert rows == [(990001,)]
            assert await uow.executor.fetchone("SELECT 1") == (1,)
