"""The command line and the terminal chat, driven as subprocesses the way a newcomer uses them."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support import peek
from support.cli import demo_codes, tcns


def test_demo_seeds_once_and_prints_codes(tmp_path: Path):
    first = tcns(tmp_path, "demo", "--no-chat")
    assert first.returncode == 0, first.stderr
    codes = demo_codes(first.stdout)
    assert len(codes) >= 5 and "Ấp Mỹ Thạnh" in codes
    again = tcns(tmp_path, "demo", "--no-chat")
    assert demo_codes(again.stdout) == codes  # the same commune, the same codes
    assert peek.file_count(tmp_path / "tcns.db", "units", "kind = 'commune'") == 1
    assert peek.file_count(tmp_path / "tcns.db", "units", "kind = 'village'") == len(codes)


def test_newcomer_joins_and_reports_in_the_demo_chat(tmp_path: Path):
    codes = demo_codes(tcns(tmp_path, "demo", "--no-chat").stdout)
    code = codes["Ấp Mỹ Phú"]
    script = f"/start {code}\nvneid 5 cks 2\n/baocao\n3\n4\n1\n1\n/cuatoi\n/thoat\n"
    chat = tcns(tmp_path, "demo", stdin=script)
    assert chat.returncode == 0, chat.stderr
    out = chat.stdout
    assert "Ấp Mỹ Phú" in out and "Đã ghi nhận" in out
    assert "[1] VNeID" in out and "[0] ✖ Hủy" in out  # options rendered as numbered lines
    assert "<b>" not in out
    assert re.search(r"Tuần này \([^)]*\): 4 hộ, 7 người", out)  # never one sum of unlike things
    rows = peek.file_rows(tmp_path / "tcns.db", "reports", "service, count, source", where="voided_at IS NULL",
                          order="id")
    assert rows == [("vneid", 5, "text"), ("chu_ky_so", 2, "text"), ("thanh_toan", 4, "buttons")]


def test_chat_as_a_named_user_resumes(tmp_path: Path):
    codes = demo_codes(tcns(tmp_path, "demo", "--no-chat").stdout)
    tcns(tmp_path, "chat", "--user", "hoa", stdin=f"/start {codes['Ấp An Bình']}\n")
    later = tcns(tmp_path, "chat", "--user", "hoa", stdin="ssk 2\n")
    assert "Đã ghi nhận" in later.stdout
    staff = tcns(tmp_path, "chat", "--user", "canbo", stdin="/help\n")
    assert "Cán bộ xã" in staff.stdout


def test_run_without_token_says_what_is_missing(tmp_path: Path):
    run = tcns(tmp_path, "run")
    assert run.returncode == 2 and "TELEGRAM_BOT_TOKEN" in run.stderr


@pytest.mark.parametrize(
    ("text", "items", "day", "has_error"),
    [
        ("vneid 5 cks 2", [{"service": "vneid", "count": 5}, {"service": "chu_ky_so", "count": 2}], None, False),
        ("hôm qua thanh toán 3", [{"service": "thanh_toan", "count": 3}], "2026-11-21", False),
        ("xin chào", [], None, False),
        ("vneid -3", [], None, True),
        ("vneid 2.5", [], None, True),
        ("vneid 501", [], None, True),
    ],
)
def test_parse_command_prints_the_bots_reading(tmp_path: Path, text, items, day, has_error):
    run = tcns(tmp_path, "parse", text, "--today", "2026-11-22")
    assert run.returncode == 0
    result = json.loads(run.stdout)
    assert set(result) == {"items", "date", "errors"}
    assert [{k: v for k, v in item.items() if k != "date"} for item in result["items"]] == items
    assert result["date"] == day and all(item["date"] == day for item in result["items"])
    assert bool(result["errors"]) is has_error
    assert not (tmp_path / "tcns.db").exists()  # parsing touches no database


def test_bad_configuration_is_named(tmp_path: Path):
    run = tcns(tmp_path, "demo", "--no-chat", extra_env={"TCNS_TIMEZONE": "Mars/Base"})
    assert run.returncode == 3 and "TCNS_TIMEZONE" in run.stderr and "Mars/Base" in run.stderr


def test_parse_gives_each_item_its_own_day(tmp_path: Path):
    run = tcns(tmp_path, "parse", "hom qua vneid 3 hom nay cks 2", "--today", "2026-11-22")
    result = json.loads(run.stdout)
    assert result["items"] == [{"service": "vneid", "count": 3, "date": "2026-11-21"},
                               {"service": "chu_ky_so", "count": 2, "date": "2026-11-22"}]


def _never_quiet(tmp_path: Path) -> Path:
    """The shipped content with no quiet hours, so a push falls due whatever the hour of the run."""
    from bot.content import DEFAULT_CONTENT_DIR

    content = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT_DIR, content)
    rules = content / "deadlines.yaml"
    text = rules.read_text(encoding="utf-8").replace('start: "21:00"\n  end: "07:00"', 'start: "00:00"\n  end: "00:00"')
    rules.write_text(text, encoding="utf-8")
    return content


def _read_until(process: subprocess.Popen, lines: queue.Queue, needle: str, seconds: float = 30) -> str:
    seen = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        if needle in line:
            return "".join(seen)
    raise AssertionError(f"{needle!r} not printed; got:\n{''.join(seen)}")


def test_the_demo_chat_shows_a_push_and_prints_the_id_that_reopens_it(tmp_path: Path):
    env = {"TCNS_CONTENT_DIR": str(_never_quiet(tmp_path))}
    codes = demo_codes(tcns(tmp_path, "demo", "--no-chat", extra_env=env).stdout)
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("TCNS_", "TELEGRAM_"))}
    environ.update(env, TCNS_DB=str(tmp_path / "tcns.db"), PYTHONUNBUFFERED="1")
    demo = subprocess.Popen([sys.executable, "-m", "bot.cli", "demo"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=environ, cwd=tmp_path)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in demo.stdout], daemon=True).start()
    try:
        you = re.search(r"trò chuyện với tên (khach-\w+)", _read_until(demo, lines, "trò chuyện với tên"))
        assert you is not None
        demo.stdin.write(f"/start {codes['Ấp Mỹ Phú']}\n")
        demo.stdin.flush()
        _read_until(demo, lines, "Chào mừng")
        staff = tcns(tmp_path, "chat", "--user", "canbo", stdin="/thongbao all Họp tổ lúc 8 giờ sáng mai\n1\n",
                     extra_env=env)
        assert "Đang gửi thông báo" in staff.stdout, staff.stdout
        # Nothing typed: the waiting demo chat shows the announcement by itself.
        assert "Họp tổ lúc 8 giờ sáng mai" in _read_until(demo, lines, "Họp tổ lúc 8 giờ")
        demo.stdin.write("/thoat\n")
        demo.stdin.flush()
        assert demo.wait(30) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
    # The printed name reopens the same conversation: still the member who joined.
    again = tcns(tmp_path, "chat", "--user", you.group(1), stdin="/cuatoi\n", extra_env=env)
    assert "Tuần này" in again.stdout, again.stdout  # a stranger would be asked to join first
