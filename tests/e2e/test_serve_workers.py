"""``tcns serve --workers 2`` as an operator starts it (a subprocess, PostgreSQL): both workers
take a share of the channel's kept-alive connections (each listens on a socket of its own),
a text posted to the webhook is recorded and answered, and a second server on the same port is
refused in Vietnamese instead of quietly taking half the connections."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from support.fakebotapi import FakeBotApi
from support.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures
from support.serve import free_port

from bot.runtime import listeners

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123:WORKERS"
SECRET = "workers-webhook-secret"
CONNECTIONS = 32


def _env(db: str, api: FakeBotApi, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TCNS_", "TELEGRAM_", "ZALO_"))}
    env.update(TCNS_DB=db, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=api.base_url,
               TELEGRAM_FILE_BASE_URL=api.base_file_url, TELEGRAM_WEBHOOK_SECRET=SECRET,
               TCNS_PUBLIC_URL=f"http://127.0.0.1:{port}", PYTHONPATH=str(ROOT))
    return env


def _serve(db: str, api: FakeBotApi, port: int, folder: Path) -> subprocess.Popen[bytes]:
    with (folder / "serve.log").open("wb") as log:  # the child keeps its own copy of the file
        return subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", str(port), "--workers", "2"],
                                env=_env(db, api, port), cwd=folder, stdout=log, stderr=subprocess.STDOUT)


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str,
                   body: bytes | None = None, headers: str = "") -> tuple[int, bytes]:
    """One kept-alive HTTP/1.1 request on an open connection (a GET, or a POST of ``body``)."""
    if body is None:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: tcns\r\n\r\n".encode())
    else:
        writer.write(f"POST {path} HTTP/1.1\r\nHost: tcns\r\nContent-Type: application/json\r\n{headers}"
                     f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str) -> int:
    return (await _request(reader, writer, path))[0]


async def _healthy(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, "tcns serve stopped"
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                if await _get(reader, writer, "/healthz") == 200:
                    return
            finally:
                writer.close()
        except (OSError, IndexError, asyncio.IncompleteReadError):
            pass
        await asyncio.sleep(0.2)
    raise TimeoutError("tcns serve --workers 2 did not start")


def _children(pid: int) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(name))
            except (OSError, ValueError, IndexError):
                pass
    return out


def _sockets(pid: int) -> set[str]:
    """The inodes of a process's sockets."""
    out = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            out.add(target[8:-1])
    return out


def _on_port(port: int) -> dict[str, str]:
    """Inode -> TCP state ("0A" listening, "01" established) of the server side of ``port``."""
    out = {}
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == port:
                out[fields[9]] = fields[3]
    return out


async def test_two_workers_share_the_connections_and_a_second_server_on_the_port_is_refused(
        postgres_url: str, tmp_path: Path) -> None:  # noqa: F811
    port = free_port()
    async with FakeBotApi() as api:
        server = _serve(postgres_url, api, port, tmp_path)
        try:
            await _healthy(port, server)
            said = (tmp_path / "serve.log").read_text(encoding="utf-8")
            assert f"nhận kết nối ở 127.0.0.1:{port} với 2 tiến trình" in said  # the operator's log, in Vietnamese
            opened = [await asyncio.open_connection("127.0.0.1", port) for _ in range(CONNECTIONS)]
            try:
                for reader, writer in opened:  # every connection answered (and so accepted by a worker)
                    assert await _get(reader, writer, "/healthz") == 200
                on_port = _on_port(port)
                workers = {pid: _sockets(pid) & set(on_port) for pid in _children(server.pid)}
                workers = {pid: inodes for pid, inodes in workers.items() if inodes}
                assert len(workers) == 2, workers  # the two workers, each with sockets on the port
                for inodes in workers.values():
                    assert [on_port[i] for i in inodes].count("0A") == 1  # a listening socket of its own
                    # each holds a share of the 32 (a hash spreads them: fewer than 5 has odds of 1 in 10^5)
                    assert [on_port[i] for i in inodes].count("01") >= 5, workers
                listening = [i for inodes in workers.values() for i in inodes if on_port[i] == "0A"]
                assert len(set(listening)) == 2  # not one socket shared by both

                second = subprocess.run([sys.executable, "-m", "bot.cli", "serve", "--port", str(port),
                                         "--workers", "2"], env=_env(postgres_url, api, port), cwd=tmp_path,
                                        capture_output=True, timeout=60)
                assert second.returncode == 2
                said = second.stderr.decode()
                assert f"Không mở được cổng {port}" in said and "--port" in said
                assert "Traceback" not in said and "Errno" not in said
                for reader, writer in opened:  # the first server goes on serving on every connection
                    assert await _get(reader, writer, "/healthz") == 200

                update = {"update_id": 1, "message": {  # a member's text, on one of the connections
                    "message_id": 1, "date": int(time.time()), "text": "/trogiup",
                    "chat": {"id": 70_001, "type": "private", "first_name": "Lan"},
                    "from": {"id": 70_001, "is_bot": False, "first_name": "Lan"}}}
                status, answer = await _request(*opened[0], "/webhook/telegram", json.dumps(update).encode(),
                                                f"X-Telegram-Bot-Api-Secret-Token: {SECRET}\r\n")
                assert status == 200
                call = json.loads(answer)  # its reply, in the webhook's answer
                assert call["method"] == "sendMessage" and call["chat_id"] == 70_001 and call["text"]
            finally:
                for _, writer in opened:
                    writer.close()
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    assert listeners.free_port("127.0.0.1", port) == port  # all closed, the reservation too: a restart may bind it
