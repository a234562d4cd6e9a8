"""Charts and exports as a user gets them: a photo and a document on Telegram, files from the CLI."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path

import docx
from openpyxl import load_workbook
from support import peek
from support.cli import tcns
from support.fakebotapi import FakeBotApi
from support.telegram import Bot, join

from bot.services.demo import Demo
from storage import UnitOfWork
from storage.models import NewReport

CREATED = datetime(2026, 10, 5, 3, 0, tzinfo=UTC)


async def test_chart_and_export_are_sent_as_photo_and_document(bot: Bot, server: FakeBotApi, seeded: Demo):
    lan = server.user(601, first_name="Lan")
    await join(lan, seeded.villages[0].member_code)
    await lan.send("vneid 6 cks 1")
    await lan.next_reply()
    assert bot.db is not None
    async with bot.db.uow() as uow:  # a commune staff account on Telegram
        staff = await uow.members.add("Cán bộ", "staff", seeded.commune.id, bot.clock.now())
        await uow.members.link_identity(staff.id, "telegram", "602", "602", bot.clock.now())
    officer = server.user(602, first_name="Cán bộ")
    await officer.send("/bieudo")
    photo = await officer.next_reply(timeout=30)  # matplotlib's first chart takes seconds on a busy machine
    assert photo.kind == "photo" and photo.file_bytes and photo.file_bytes.startswith(b"\x89PNG")
    assert "Xã Mỹ Hiệp – tháng 11/2026 (01/11–30/11): 7 người (+7 so với kỳ trước)" in photo.plain_text
    await officer.send("/xuat")
    document = await officer.next_reply(timeout=30)
    assert document.kind == "document" and document.filename == "baocao_XA-MY-HIEP_2026-11.xlsx"
    book = load_workbook(io.BytesIO(document.file_bytes or b""))
    summary = {r[1]: r for r in book["Báo cáo"].iter_rows(values_only=True) if isinstance(r[0], int)}
    assert summary["Ấp Mỹ Thạnh"][3:5] == (6, 1)
    assert not server.errors


def test_cli_export_and_targets_import(tmp_path: Path):
    assert tcns(tmp_path, "demo", "--no-chat").returncode == 0
    async def october_report(uow: UnitOfWork) -> None:  # a member's report of 5 October, in storage
        village = await uow.units.by_code("village", "AP-MY-PHU")
        assert village is not None
        member = await uow.members.add("Ba", "member", village.id, CREATED)
        await uow.reports.add_batch("b1", member.id, village.id, [NewReport("dich_vu_cong", 12)], date(2026, 10, 5),
                                    "text", CREATED)

    peek.on_file(tmp_path / "tcns.db", october_report)
    bad = tmp_path / "bad.csv"
    bad.write_text("commune,village,service,year,target\nXA-MY-HIEP,AP-MY-PHU,dvc,2026,75\n"
                   "XA-MY-HIEP,AP-MY-PHU,dvc,2026,abc\n", encoding="utf-8")
    failed = tcns(tmp_path, "targets", "import", str(bad))
    assert failed.returncode == 1 and "dòng 3" in failed.stderr and "Không nhập gì" in failed.stderr
    good = tmp_path / "good.csv"
    good.write_text("commune,village,service,year,target\nXA-MY-HIEP,AP-MY-PHU,dvc,2026,24\n", encoding="utf-8")
    done = tcns(tmp_path, "targets", "import", str(good))
    assert done.returncode == 0 and "Đã nhập 1 mục tiêu" in done.stdout
    out = tmp_path / "oct.xlsx"
    exported = tcns(tmp_path, "export", "--commune", "XA-MY-HIEP", "--period", "2026-10", "-o", str(out))
    assert exported.returncode == 0, exported.stderr
    book = load_workbook(out)
    report = [list(r) for r in book["Báo cáo"].iter_rows(values_only=True)]
    header = next(r for r in report if r[:2] == ["STT", "Thôn, ấp"])
    rows = {r[1]: dict(zip(header, r, strict=True)) for r in report[report.index(header) + 1:] if r[1]}
    assert rows["Ấp Mỹ Phú"]["Dịch vụ công (lượt)"] == 12 and rows["Toàn xã"]["Tổng (lượt)"] == 12
    targets = {(r[0], r[1]): r for r in book["Chỉ tiêu theo thôn"].iter_rows(min_row=7, values_only=True)}
    assert targets["Ấp Mỹ Phú", "Dịch vụ công trực tuyến"][3:] == (24, 12, 50)  # target, so far, %
    word = tmp_path / "oct.docx"
    assert tcns(tmp_path, "export", "--commune", "XA-MY-HIEP", "--period", "2026-10", "--format", "docx",
                "-o", str(word)).returncode == 0
    document = docx.Document(str(word))
    villages = {r.cells[1].text: [c.text for c in r.cells] for r in document.tables[2].rows}
    assert villages["Ấp Mỹ Phú"][6] == "12" and villages["Toàn xã"][-2] == "12"
    csv_out = tmp_path / "oct.csv"
    assert tcns(tmp_path, "export", "--commune", "XA-MY-HIEP", "--period", "2026-10", "--format", "csv",
                "-o", str(csv_out)).returncode == 0
    assert "Ấp Mỹ Phú,368,0,0,0,12" in csv_out.read_text(encoding="utf-8-sig")
    assert "Dịch vụ công trực tuyến,Lượt," in csv_out.read_text(encoding="utf-8-sig")
    unknown = tcns(tmp_path, "export", "--commune", "XA-NOPE", "--period", "2026-10")
    assert unknown.returncode == 2
