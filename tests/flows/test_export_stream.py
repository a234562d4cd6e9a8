"""The XLSX export is built from one read snapshot outside the database, streamed (issue 11)."""

from __future__ import annotations

import asyncio
import io
from datetime import date

import pytest
from openpyxl import load_workbook
from support.helpers import TZ, ChatUser

from bot.content import Content
from bot.domain.periods import month
from bot.flows.engine import Engine
from bot.services import export, export_rows
from bot.services.demo import Demo
from bot.services.export import gather, to_xlsx
from bot.services.tallies import build_tally
from storage import Database
from storage.models import NewReport


async def report(db: Database, member: int, village: int, day: date, clock, batch: str, **counts: int) -> None:
    async with db.uow() as uow:
        await uow.reports.add_batch(batch, member, village, [NewReport(s, c) for s, c in counts.items()], day, "text",
                                    clock.now())


@pytest.fixture
async def member(db: Database, demo: Demo, clock) -> int:
    async with db.uow() as uow:
        return (await uow.members.add("Người Một", "member", demo.villages[0].village.id, clock.now())).id


# Columns of the detail sheet: number, day, village, service, count, source, reporter, entered by, status...
DAY, COUNT, STATUS = 1, 4, 8


def sheet_rows(book, name: str) -> list[tuple]:
    return list(book[name].iter_rows(min_row=7, values_only=True))


async def test_the_file_shows_one_moment_summary_and_detail_alike(db, demo, member, content: Content, clock):
    village = demo.villages[0].village.id
    await report(db, member, village, date(2026, 11, 3), clock, "a", vneid=4)
    async with db.uow() as uow:  # /xuat: the tally of the chat answer, inside the command's unit of work
        tally = await build_tally(uow, demo.commune, month(2026, 11), content.catalogue.codes, clock.now())
        data = await gather(uow, tally)
    await report(db, member, village, date(2026, 11, 4), clock, "b", vneid=2)  # arrives before the file is built
    book = load_workbook(io.BytesIO(await asyncio.to_thread(to_xlsx, data, content, TZ)))
    summary = {r[0]: r for r in sheet_rows(book, "VNeID")}
    assert summary["Toàn xã"][-1] == 6  # the file's own moment: both reports
    filed = [r for r in book["Báo cáo"].iter_rows(values_only=True) if r[1] == "VNeID / định danh điện tử"]
    assert filed[0][4] == 6  # the filed report too
    assert sorted(r[COUNT] for r in sheet_rows(book, "Chi tiết")) == [2, 4]  # and the detail says the same


async def test_a_detail_longer_than_a_sheet_goes_on_in_another(db, demo, member, content, clock, monkeypatch):
    village = demo.villages[1].village.id
    for n in range(25):
        await report(db, member, village, date(2026, 11, 1 + n % 20), clock, f"b{n}", cks=1 + n % 5)
    monkeypatch.setattr(export_rows, "MAX_SHEET_ROWS", 16)  # 6 title rows and 10 reports a sheet
    async with db.uow() as uow:
        tally = await build_tally(uow, demo.commune, month(2026, 11), content.catalogue.codes, clock.now())
        data = await gather(uow, tally)
    book = load_workbook(io.BytesIO(to_xlsx(data, content, TZ)))
    names = [n for n in book.sheetnames if n.startswith("Chi tiết")]
    assert names == ["Chi tiết", "Chi tiết (2)", "Chi tiết (3)"]
    rows = [r for n in names for r in sheet_rows(book, n)]
    assert len(rows) == 25 and [r[DAY] for r in rows] == sorted(r[DAY] for r in rows)  # by day, none lost or doubled
    assert all(book[n]["A1"].value == book["Chi tiết"]["A1"].value for n in names)  # each with its title


async def test_a_members_own_undo_reads_as_words(engine: Engine, demo: Demo, db, content, clock):
    user = ChatUser(engine, "5001", "Lan")
    await user.send(f"/start {demo.villages[2].member_code}")
    await user.send("vneid 3")
    await user.tap("↩ Hoàn tác")
    async with db.uow() as uow:
        tally = await build_tally(uow, demo.commune, month(2026, 11), content.catalogue.codes, clock.now())
        data = await gather(uow, tally)
    book = load_workbook(io.BytesIO(to_xlsx(data, content, TZ)))
    [row] = sheet_rows(book, "Chi tiết")
    assert row[STATUS] == "Đã hủy" and row[STATUS + 1] == "Người báo cáo tự hoàn tác"  # not the internal reason code


async def test_a_big_file_is_built_in_a_process_of_its_own(db, demo, member, content, clock, monkeypatch):
    village = demo.villages[3].village.id
    await report(db, member, village, date(2026, 11, 5), clock, "a", ssk=3, kns=2)
    async with db.uow() as uow:
        tally = await build_tally(uow, demo.commune, month(2026, 11), content.catalogue.codes, clock.now())
        data = await gather(uow, tally)
    here = export.write_xlsx(data, content, TZ)
    monkeypatch.setattr(export, "ISOLATED_ROWS", 0)  # every file is "big"
    there = await asyncio.to_thread(to_xlsx, data, content, TZ)
    rows = [[sheet_rows(load_workbook(io.BytesIO(body)), name) for name in ("Báo cáo", "Chi tiết")]
            for body in (here, there)]
    assert rows[0] == rows[1] and len(rows[1][1]) == 2
