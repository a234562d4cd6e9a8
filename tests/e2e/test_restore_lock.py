"""`tcns restore` refuses while another tcns process has the database open; a crash leaves no stale lock."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from support import peek
from support.cli import tcns


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TCNS_", "TELEGRAM_", "ZALO_"))}
    env["TCNS_DB"] = str(tmp_path / "tcns.db")
    return env


async def _tcns(tmp_path: Path, *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args, env=_env(tmp_path), cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, err.decode()


async def _chat(tmp_path: Path) -> asyncio.subprocess.Process:
    """`tcns chat` as staff, started and waiting for input: it has the database open."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "chat", "--user", "canbo", env=_env(tmp_path), cwd=tmp_path,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    assert await asyncio.wait_for(process.stdout.readline(), 60)  # the banner: the database is open
    return process


async def _communes(tmp_path: Path) -> list[str]:
    async with peek.opened(tmp_path / "tcns.db") as db:
        return [r[0] for r in await peek.rows(db, "units", "code", where="kind = 'commune'", order="code")]


async def test_restore_refuses_while_a_tcns_process_has_the_database_open(tmp_path: Path):
    tcns(tmp_path, "demo", "--no-chat")
    assert tcns(tmp_path, "backup", "copy.db").returncode == 0
    tcns(tmp_path, "commune", "add", "--code", "XA-LATER", "--name", "Xã Sau")

    chat = await _chat(tmp_path)
    try:
        code, err = await _tcns(tmp_path, "restore", "copy.db", "--yes")
        assert code == 1
        assert "Không khôi phục" in err and "đang mở cơ sở dữ liệu" in err and "Chưa thay đổi gì" in err
        assert "CẢNH BÁO" not in err  # refused before asking anything
        assert await _communes(tmp_path) == ["XA-LATER", "XA-MY-HIEP"]
        assert chat.stdin is not None
        chat.stdin.write(b"/thoat\n")
        await chat.stdin.drain()
        assert await asyncio.wait_for(chat.wait(), 60) == 0
    finally:
        if chat.returncode is None:
            chat.kill()
            await chat.wait()
    code, err = await _tcns(tmp_path, "restore", "copy.db", "--yes")
    assert code == 0, err
    assert await _communes(tmp_path) == ["XA-MY-HIEP"]


async def test_a_process_killed_with_the_database_open_leaves_no_stale_lock(tmp_path: Path):
    tcns(tmp_path, "demo", "--no-chat")
    assert tcns(tmp_path, "backup", "copy.db").returncode == 0
    tcns(tmp_path, "commune", "add", "--code", "XA-LATER", "--name", "Xã Sau")
    chat = await _chat(tmp_path)
    chat.send_signal(signal.SIGKILL)
    assert await asyncio.wait_for(chat.wait(), 60) == -signal.SIGKILL
    code, err = await _tcns(tmp_path, "restore", "copy.db", "--yes")
    assert code == 0, err
    assert await _communes(tmp_path) == ["XA-MY-HIEP"]
