"""Bad input on the command line changes nothing and is never fatal: names that cannot be
stored as they came, codes and names with resident data, in `tcns` run as a subprocess."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import peek
from support.cli import demo_codes, tcns


def test_terminal_user_given_as_bytes_that_are_not_utf8_can_chat(tmp_path: Path):
    codes = demo_codes(tcns(tmp_path, "demo", "--no-chat").stdout)
    chat = tcns(tmp_path, "chat", "--user", "l\udcffan", stdin=f"/start {codes['Ấp Mỹ Thạnh']}\nvneid 3\n")
    assert chat.returncode == 0, chat.stderr
    assert "Chào mừng" in chat.stdout and "Đã ghi nhận" in chat.stdout
    assert peek.file_rows(tmp_path / "tcns.db", "members m JOIN identities i ON i.member_id = m.id",
                          "m.name, i.external_id", where="m.role = 'member'") == [("lan", "lan")]


def test_commune_add_refuses_bad_codes_and_resident_data(tmp_path: Path):
    for args, message in [
        (("--code", "XA AN HOA", "--name", "Xã An Hòa"), "không dùng được"),
        (("--code", "XA-A", "--name", "\u3164"), "không nhìn thấy"),
        (("--code", "XA-A", "--name", "Xã " + "A" * 100), "dài quá 80"),
        (("--code", "XA-A", "--name", "Xã An Hòa sdt 0912345678"), "chỉ giữ số liệu đếm"),
        (("--code", "XA-A", "--name", "Xã A", "--province-code", "QT", "--province-name", "T 001203004567"),
         "chỉ giữ số liệu đếm"),
    ]:
        run = tcns(tmp_path, "commune", "add", *args)
        assert run.returncode == 1 and message in run.stderr and "Chưa thay đổi gì" in run.stderr, (args, run.stderr)
    assert peek.file_count(tmp_path / "tcns.db", "units") == 0
    run = tcns(tmp_path, "commune", "add", "--code", "XA-A", "--name", "Xã\u200b  An\tHòa\udcff")
    assert run.returncode == 0, run.stderr
    assert peek.file_rows(tmp_path / "tcns.db", "units", "name") == [("Xã An Hòa",)]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("T 1,Thôn Một,1,2", "chỉ được gồm chữ không dấu"),
        ("THON-MOT-CUA-XA-AN-HOA,Thôn Một,1,2", "tối đa 20 ký tự"),  # /thon could not name it
        ("T1,\u3164\u200b,1,2", "trống"),
        ("T1,Thôn " + "x" * 90 + ",1,2", "dài quá 80"),
        ("T1,Thôn Một (bà Lan 0912345678),1,2", "chỉ giữ số liệu đếm"),
        ("001203004567,Thôn Một,1,2", "chỉ giữ số liệu đếm"),
    ],
)
def test_village_csv_with_bad_names_or_resident_data_imports_nothing(tmp_path: Path, line: str, message: str):
    tcns(tmp_path, "commune", "add", "--code", "XA-B", "--name", "Xã B")
    (tmp_path / "v.csv").write_text(f"code,name,households,adults\nT9,Thôn Chín,3,4\n{line}\n", encoding="utf-8")
    run = tcns(tmp_path, "villages", "import", "--commune", "XA-B", "v.csv")
    assert run.returncode == 1 and "Dòng 3:" in run.stderr and message in run.stderr, run.stderr
    assert peek.file_count(tmp_path / "tcns.db", "units", "kind = 'village'") == 0
