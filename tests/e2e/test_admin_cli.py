"""Set-up from the command line: communes, village CSV import, staff invites, export, forget, backup."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from support import peek
from support.cli import demo_codes, tcns

from bot.cli.admin import read_villages_csv

GOOD_CSV = "code,name,households,adults\nT1,Thôn Đông,120,310\nT2,Thôn Tây,95,240\n"


def test_commune_add_then_villages_import(tmp_path: Path):
    assert tcns(tmp_path, "commune", "add", "--code", "XA-A", "--name", "Xã An Hòa",
                "--province-code", "QT", "--province-name", "Tỉnh Quảng Trị").returncode == 0
    assert tcns(tmp_path, "commune", "add", "--code", "XA-A", "--name", "Lặp").returncode == 1
    (tmp_path / "v.csv").write_bytes(("\ufeff" + GOOD_CSV).encode("utf-8"))  # with a BOM, as Excel saves it
    run = tcns(tmp_path, "villages", "import", "--commune", "XA-A", "v.csv")
    assert run.returncode == 0 and "2 thôn mới" in run.stdout
    assert peek.file_rows(tmp_path / "tcns.db", "units", "code, name, households, adults", where="kind='village'",
                          order="code") == [
        ("T1", "Thôn Đông", 120, 310), ("T2", "Thôn Tây", 95, 240)]
    (tmp_path / "v2.csv").write_text("code,name,households,adults\nT2,Thôn Tây,101,250\n", encoding="utf-8")
    assert "1 thôn cập nhật" in tcns(tmp_path, "villages", "import", "--commune", "XA-A", "v2.csv").stdout
    assert peek.file_rows(tmp_path / "tcns.db", "units", "households", where="code='T2'") == [(101,)]


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        ("code,name,households\nT1,Thôn A,1\n", 1, "thiếu cột: adults"),
        ("code,name,households,adults\nT1,Thôn A,10,20\nT1,Thôn B,5,6\n", 3, "mã T1 trùng với dòng 3"),
        ("code,name,households,adults\nT1,Thôn A,-4,20\n", 2, "households phải là số nguyên"),
        ("code,name,households,adults\nT1,,4,20\n", 2, "trống"),
        ("code,name,households,adults\nT1,Thôn A,4\n", 2, "thiếu ô"),
    ],
)
def test_bad_village_csv_names_the_line_and_imports_nothing(tmp_path: Path, content, line, message):
    tcns(tmp_path, "commune", "add", "--code", "XA-B", "--name", "Xã B")
    good_then_bad = content if line == 1 else content.replace("\n", "\nT9,Thôn Chín,3,4\n", 1)
    (tmp_path / "bad.csv").write_text(good_then_bad, encoding="utf-8")
    run = tcns(tmp_path, "villages", "import", "--commune", "XA-B", "bad.csv")
    assert run.returncode == 1
    shown_line = line if line == 1 else line + 1  # the good line inserted above shifts the bad one down
    assert f"Dòng {shown_line}:" in run.stderr and message in run.stderr
    assert "chưa nhập dòng nào" in run.stderr
    assert peek.file_count(tmp_path / "tcns.db", "units", "kind='village'") == 0


def test_wrong_encoding_is_refused():
    rows, errors = read_villages_csv("code,name,households,adults\nT1,Thôn Đông,1,2\n".encode("cp1258"))
    assert rows == [] and errors[0][1] == "admin_cli.csv_encoding"


def test_staff_invite_lets_staff_join(tmp_path: Path):
    tcns(tmp_path, "commune", "add", "--code", "XA-C", "--name", "Xã C")
    run = tcns(tmp_path, "staff", "invite", "--commune", "XA-C")
    code = run.stdout.split("/start ")[1].split()[0]
    chat = tcns(tmp_path, "chat", "--user", "canbo2", stdin=f"/start {code}\n")
    assert "Xã C" in chat.stdout and "cán bộ xã" in chat.stdout
    assert tcns(tmp_path, "staff", "invite", "--commune", "NOPE").returncode == 1


def test_a_province_and_its_staff(tmp_path: Path):
    """A province grows commune by commune; its staff (cán bộ tỉnh) join by an invite for the province
    and read every commune of it, and nothing of another province."""
    for code, name, province, province_name in (("XA-A", "Xã An", "QT", "Tỉnh Quảng Trị"),
                                                 ("XA-B", "Xã Bình", "QT", "Tỉnh Quảng Trị"),
                                                 ("XA-Z", "Xã Xa", "HUE", "Thành phố Huế")):
        assert tcns(tmp_path, "commune", "add", "--code", code, "--name", name,
                    "--province-code", province, "--province-name", province_name).returncode == 0
    run = tcns(tmp_path, "staff", "invite", "--province", "QT")
    assert run.returncode == 0 and "cán bộ tỉnh, Tỉnh Quảng Trị" in run.stdout
    code = run.stdout.split("/start ")[1].split()[0]
    chat = tcns(tmp_path, "chat", "--user", "sokhcn", stdin=f"/start {code}\n/thang\n/thang XA-Z\n")
    assert "Tỉnh Quảng Trị" in chat.stdout and "cán bộ tỉnh" in chat.stdout
    assert "Xã An: 0 hộ" in chat.stdout and "Xã Bình: 0 hộ" in chat.stdout
    assert "«XA-Z» nằm ngoài phạm vi của bạn (Tỉnh Quảng Trị)" in chat.stdout
    missing = tcns(tmp_path, "staff", "invite", "--province", "NOPE")
    assert missing.returncode == 1 and "Không có tỉnh mã NOPE" in missing.stderr


def test_members_export_and_forget(tmp_path: Path):
    codes = demo_codes(tcns(tmp_path, "demo", "--no-chat").stdout)
    tcns(tmp_path, "chat", "--user", "lan", stdin=f"/start {codes['Ấp Mỹ Thạnh']}\nvneid 4\n")
    export = tcns(tmp_path, "members", "export", "--commune", "XA-MY-HIEP")
    rows = list(csv.reader(io.StringIO(export.stdout)))
    assert rows[0][0] == "Mã số"
    lan = next(r for r in rows if r[1] == "lan")
    assert lan[2] == "member" and lan[3] == "AP-MY-THANH" and lan[7] == "terminal" and lan[8]
    forget = tcns(tmp_path, "member", "forget", lan[0])
    assert forget.returncode == 0
    database = tmp_path / "tcns.db"
    assert peek.file_rows(database, "members", "name, status", where="id = ?", params=(int(lan[0]),)) == [
        (None, "forgotten")]
    assert peek.file_count(database, "identities", "member_id = ?", int(lan[0])) == 0
    assert peek.file_rows(database, "reports", "service, count", where="member_id = ?", params=(int(lan[0]),)) == [
        ("vneid", 4)]
    assert peek.file_rows(database, "audit", "action", where="object = ?", params=(f"member:{lan[0]}",)) == [
        ("member_forget",)]
    again = tcns(tmp_path, "chat", "--user", "lan", stdin="vneid 1\n")
    assert "chưa tham gia" in again.stdout  # the chat identity is gone too
    audit = tcns(tmp_path, "chat", "--user", "canbo", stdin="/nhatky\n")  # the commune's staff see the erasure
    assert "xóa dữ liệu cá nhân của thành viên #" in audit.stdout


def test_backup_and_restore(tmp_path: Path):
    tcns(tmp_path, "demo", "--no-chat")
    assert tcns(tmp_path, "backup", "copy.db").returncode == 0
    tcns(tmp_path, "commune", "add", "--code", "XA-LATER", "--name", "Xã Sau")
    assert tcns(tmp_path, "restore", "copy.db").returncode == 1  # no tty, no --yes: refuses
    assert peek.file_count(tmp_path / "tcns.db", "units", "code='XA-LATER'") == 1
    run = tcns(tmp_path, "restore", "copy.db", "--yes")
    assert run.returncode == 0 and "CẢNH BÁO" in run.stderr
    assert peek.file_count(tmp_path / "tcns.db", "units", "code='XA-LATER'") == 0
    (tmp_path / "junk.db").write_bytes(b"not a database")
    assert tcns(tmp_path, "restore", "junk.db", "--yes").returncode == 1
