"""The storage contract, every backend: reports (append-only: voids, corrections, batches,
repeats, recent pages), the tallies over them, yearly targets, and the reminder planner's reads."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from support.helpers import NOW

from storage import Database
from storage.models import Conversation, NewMessage, NewReport, Target

DAY = date(2026, 11, 20)


async def test_void_keeps_the_row(backend: Database):
    async with backend.uow() as uow:
        commune = await uow.units.add("commune", "C1", "Xã Một")
        village = await uow.units.add("village", "V1", "Thôn Một", commune.id, 100, 250)
        member = await uow.members.add("Lan", "member", village.id, NOW)
        items = [NewReport("vneid", 3), NewReport("chu_ky_so", 1)]
        await uow.reports.add_batch("b1", member.id, village.id, items, date(2026, 11, 20), "text", NOW)
        assert await uow.reports.void_batch("b1", member.id, "test", NOW) == 2
        assert await uow.reports.void_batch("b1", member.id, "test", NOW) == 0
        rows = await uow.reports.all_for_village(village.id)
        assert [(r.service, r.count, r.void_reason) for r in rows] == [("vneid", 3, "test"), ("chu_ky_so", 1, "test")]
        assert await uow.reports.count() == 0
        assert await uow.reports.count(live_only=False) == 2


async def test_same_batch_id_of_two_members_never_mixes(backend: Database):
    """Batch ids are short random tokens: when two members draw the same one, undo stays per member."""
    async with backend.uow() as uow:
        commune = await uow.units.add("commune", "C1", "Xã Một")
        village = await uow.units.add("village", "V1", "Thôn Một", commune.id, 100, 250)
        lan = await uow.members.add("Lan", "member", village.id, NOW)
        minh = await uow.members.add("Minh", "member", village.id, NOW)
        await uow.reports.add_batch("same", lan.id, village.id, [NewReport("vneid", 3)], NOW.date(), "text", NOW)
        await uow.reports.add_batch("same", minh.id, village.id, [NewReport("cks", 2)], NOW.date(), "text", NOW)
        assert [r.service for r in await uow.reports.batch("same", minh.id)] == ["cks"]
        assert await uow.reports.void_batch("same", lan.id, "test", NOW) == 1
        live = [(r.member_id, r.service) for r in await uow.reports.all_for_village(village.id) if r.voided_at is None]
        assert live == [(minh.id, "cks")]


async def test_a_batch_reads_back_as_recorded(backend: Database, commune):
    lan, village = commune.members[0], commune.villages[0]
    async with backend.uow() as uow:
        await uow.reports.add_batch("b1", lan.id, village.id, [NewReport("vneid", 5), NewReport("chu_ky_so", 2)],
                                    DAY, "buttons", NOW)
        batch = await uow.reports.batch("b1", lan.id)
        assert [(r.batch_id, r.member_id, r.village_id, r.service, r.count, r.occurred_on, r.source, r.voided_at)
                for r in batch] == [("b1", lan.id, village.id, "vneid", 5, DAY, "buttons", None),
                                    ("b1", lan.id, village.id, "chu_ky_so", 2, DAY, "buttons", None)]
        assert batch[0].created_at == NOW
        assert await uow.reports.get(batch[1].id) == batch[1]
        assert await uow.reports.get(999_999) is None
        assert await uow.reports.member_totals(lan.id, DAY, DAY) == {"vneid": 5, "chu_ky_so": 2}
        assert await uow.reports.member_totals(lan.id, DAY + timedelta(days=1), DAY + timedelta(days=7)) == {}


async def test_deferred_report_rows_are_there_for_the_next_read_and_at_the_commit(backend: Database, commune):
    """A webhook group's unit of work defers its reports' rows (PostgreSQL: one INSERT with the
    next statement): every later statement of the unit sees them, in order, and they commit;
    a row that cannot be written fails that unit as a whole (nothing of it stays)."""
    (lan, minh), village = commune.members[:2], commune.villages[0]
    async with backend.uow() as uow:
        uow.defer_appends()
        await uow.reports.add_batch("d1", lan.id, village.id, [NewReport("vneid", 5)], DAY, "text", NOW)
        await uow.reports.add_batch("d2", minh.id, village.id, [NewReport("vneid", 2), NewReport("cks", 1)],
                                    DAY, "text", NOW)
        assert await uow.reports.member_totals(minh.id, DAY, DAY) == {"vneid": 2, "cks": 1}
        await uow.reports.add_batch("d3", lan.id, village.id, [NewReport("cks", 4)], DAY, "text", NOW)
    async with backend.uow() as uow:
        assert [(r.batch_id, r.service, r.count) for r in await uow.reports.batch("d3", lan.id)] == [("d3", "cks", 4)]
        assert await uow.reports.member_totals(lan.id, DAY, DAY) == {"vneid": 5, "cks": 4}
        first, second = await uow.reports.batch("d1", lan.id), await uow.reports.batch("d2", minh.id)
        assert [r.id for r in first] < [r.id for r in second]  # in the order written
    with pytest.raises(Exception):  # noqa: B017 - the driver's own error for a member who does not exist
        async with backend.uow() as uow:
            uow.defer_appends()
            await uow.conversations.save("telegram", "c-d", Conversation("report", "x"), NOW)
            await uow.reports.add_batch("d4", lan.id, village.id, [NewReport("vneid", 1)], DAY, "text", NOW)
            await uow.reports.add_batch("d5", 999_999, village.id, [NewReport("vneid", 1)], DAY, "text", NOW)
    async with backend.uow() as uow:
        assert await uow.reports.batch("d4", lan.id) == []
        assert await uow.conversations.load("telegram", "c-d") == Conversation()


async def test_one_report_is_voided_once_with_who_and_why(backend: Database, commune):
    lan, village = commune.members[0], commune.villages[0]
    async with backend.uow() as uow:
        await uow.reports.add_batch("b1", lan.id, village.id, [NewReport("vneid", 5)], DAY, "text", NOW)
        report = (await uow.reports.batch("b1", lan.id))[0]
        assert await uow.reports.void_one(report.id, commune.staff.id, "trùng", NOW)
        assert not await uow.reports.void_one(report.id, commune.staff.id, "again", NOW)
        voided = await uow.reports.get(report.id)
        assert voided is not None
        assert (voided.voided_at, voided.voided_by, voided.void_reason) == (NOW, commune.staff.id, "trùng")
        assert await uow.reports.member_totals(lan.id, DAY, DAY) == {}


async def test_a_correction_voids_the_old_row_and_appends_its_replacement(backend: Database, commune):
    lan, village = commune.members[0], commune.villages[0]
    later = NOW + timedelta(hours=1)
    async with backend.uow() as uow:
        await uow.reports.add_batch("b1", lan.id, village.id, [NewReport("vneid", 50)], DAY, "text", NOW)
        old = (await uow.reports.batch("b1", lan.id))[0]
        new_id = await uow.reports.supersede(old, 5, commune.staff.id, "gõ nhầm", later)
        assert new_id is not None and new_id != old.id
        assert await uow.reports.supersede(old, 6, commune.staff.id, "again", later) is None  # voided already
        new = await uow.reports.get(new_id)
        assert new is not None
        assert (new.batch_id, new.member_id, new.village_id, new.service, new.count, new.occurred_on, new.source,
                new.supersedes, new.created_at) == ("b1", lan.id, village.id, "vneid", 5, DAY, "text", old.id, later)
        assert (await uow.reports.get(old.id)).void_reason == "gõ nhầm"  # type: ignore[union-attr]
        assert await uow.reports.member_totals(lan.id, DAY, DAY) == {"vneid": 5}


async def test_the_last_live_batch_since_a_moment(backend: Database, commune):
    lan, village = commune.members[0], commune.villages[0]
    async with backend.uow() as uow:
        await uow.reports.add_batch("old", lan.id, village.id, [NewReport("vneid", 1)], DAY, "text", NOW)
        await uow.reports.add_batch("new", lan.id, village.id, [NewReport("vneid", 2)], DAY, "text",
                                    NOW + timedelta(minutes=5))
        assert [r.batch_id for r in await uow.reports.last_live_batch(lan.id, NOW)] == ["new"]
        await uow.reports.void_batch("new", lan.id, "member_undo", NOW)
        assert [r.batch_id for r in await uow.reports.last_live_batch(lan.id, NOW)] == ["old"]
        assert await uow.reports.last_live_batch(lan.id, NOW + timedelta(minutes=1)) == []


async def test_a_repeat_is_the_same_items_for_the_same_day(backend: Database, commune):
    lan, village = commune.members[0], commune.villages[0]
    items = [NewReport("vneid", 3), NewReport("chu_ky_so", 1)]
    since = NOW - timedelta(hours=1)
    async with backend.uow() as uow:
        await uow.reports.add_batch("b1", lan.id, village.id, items, DAY, "text", NOW)
        same = uow.reports.same_batch_since
        assert await same(lan.id, DAY, [NewReport("chu_ky_so", 1), NewReport("vneid", 3)], since) == NOW  # any order
        assert await same(lan.id, DAY, [NewReport("vneid", 3)], since) is None  # fewer items
        assert await same(lan.id, DAY, [NewReport("vneid", 3), NewReport("chu_ky_so", 2)], since) is None
        assert await same(lan.id, DAY + timedelta(days=1), items, since) is None  # another day
        assert await same(commune.members[1].id, DAY, items, since) is None  # another member
        assert await same(lan.id, DAY, items, NOW + timedelta(seconds=1)) is None  # before the window
        await uow.reports.void_batch("b1", lan.id, "member_undo", NOW)
        assert await same(lan.id, DAY, items, since) is None  # an undone batch is no repeat


async def test_recent_reports_are_live_newest_first_and_paged(backend: Database, commune):
    (lan, minh), (first, second) = commune.members, commune.villages
    async with backend.uow() as uow:
        for n in range(5):
            member, village = (lan, first) if n % 2 == 0 else (minh, second)
            await uow.reports.add_batch(f"b{n}", member.id, village.id, [NewReport("vneid", n + 1)], DAY, "text", NOW)
        await uow.reports.void_batch("b4", lan.id, "test", NOW)
        both = [first.id, second.id]
        recent = await uow.reports.recent(both, 3)
        assert [(r.count, name) for r, name in recent] == [(4, "Minh"), (3, "Lan"), (2, "Minh")]
        assert [r.count for r, _ in await uow.reports.recent([first.id], 10)] == [3, 1]
        assert await uow.reports.recent([], 10) == []
        page = await uow.reports.recent_page(both, None, 2)
        assert [(r.count, name) for r, name in page] == [(4, "Minh"), (3, "Lan")]
        rest = await uow.reports.recent_page(both, page[-1][0].id, 2)
        assert [r.count for r, _ in rest] == [2, 1]
        assert await uow.reports.recent_page(both, rest[-1][0].id, 2) == []


# Tallies --------------------------------------------------------------------------------------
async def test_totals_per_village_and_service_for_each_scope(backend: Database, commune):
    (lan, minh), (first, second) = commune.members, commune.villages
    async with backend.uow() as uow:
        province = await uow.units.add("province", "TINH", "Tỉnh")
        await uow.reports.add_batch("b1", lan.id, first.id, [NewReport("vneid", 3), NewReport("chu_ky_so", 1)],
                                    date(2026, 11, 2), "text", NOW)
        await uow.reports.add_batch("b2", lan.id, first.id, [NewReport("vneid", 2)], date(2026, 11, 30), "text", NOW)
        await uow.reports.add_batch("b3", minh.id, second.id, [NewReport("none", 0)], date(2026, 11, 15), "text", NOW)
        await uow.reports.add_batch("b4", minh.id, second.id, [NewReport("vneid", 9)], date(2026, 10, 31), "text", NOW)
        await uow.reports.add_batch("b5", lan.id, first.id, [NewReport("vneid", 7)], date(2026, 11, 3), "text", NOW)
        await uow.reports.void_batch("b5", lan.id, "test", NOW)
    async with backend.uow() as uow:
        november = await uow.tallies.totals("commune", commune.commune.id, date(2026, 11, 1), date(2026, 11, 30))
        assert {(t.village_id, t.service): (t.households, t.reports) for t in november} == {
            (first.id, "vneid"): (5, 2), (first.id, "chu_ky_so"): (1, 1),
            (second.id, "none"): (0, 1),  # an explicit zero: the village has reported
        }
        village = await uow.tallies.totals("village", first.id, date(2026, 11, 1), date(2026, 11, 15))
        assert {(t.service, t.households) for t in village} == {("vneid", 3), ("chu_ky_so", 1)}
        # a period that cuts months at both ends: partial days plus whole months
        edges = await uow.tallies.totals("commune", commune.commune.id, date(2026, 10, 31), date(2026, 11, 2))
        assert {(t.village_id, t.service): t.households for t in edges} == {
            (second.id, "vneid"): 9, (first.id, "vneid"): 3, (first.id, "chu_ky_so"): 1}
        assert await uow.tallies.totals("province", province.id, date(2026, 1, 1), date(2026, 12, 31)) == []
        with pytest.raises(ValueError):
            await uow.tallies.totals("hamlet", first.id, date(2026, 11, 1), date(2026, 11, 30))


async def test_totals_of_a_province_gather_its_communes(backend: Database):
    async with backend.uow() as uow:
        province = await uow.units.add("province", "TINH", "Tỉnh")
        villages = []
        for code in ("XA", "XB"):
            commune = await uow.units.add("commune", code, f"Xã {code}", province.id)
            villages.append(await uow.units.add("village", "T1", "Thôn Một", commune.id))
        member = await uow.members.add("Lan", "member", villages[0].id, NOW)
        for n, village in enumerate(villages):
            await uow.reports.add_batch(f"b{n}", member.id, village.id, [NewReport("vneid", n + 2)], DAY, "text", NOW)
        totals = await uow.tallies.totals("province", province.id, date(2026, 11, 1), date(2026, 11, 30))
        assert {t.village_id: t.households for t in totals} == {villages[0].id: 2, villages[1].id: 3}


async def test_daily_figures_and_the_detail_of_every_row(backend: Database, commune):
    (lan, minh), (first, second) = commune.members, commune.villages
    async with backend.uow() as uow:
        await uow.reports.add_batch("b1", lan.id, first.id, [NewReport("vneid", 3)], date(2026, 11, 2), "text", NOW)
        await uow.reports.add_batch("b2", lan.id, first.id, [NewReport("vneid", 2)], date(2026, 11, 2), "text", NOW)
        await uow.reports.add_batch("b3", minh.id, second.id, [NewReport("none", 0)], date(2026, 11, 3), "text", NOW)
        await uow.reports.void_batch("b2", lan.id, "test", NOW)
        upto = await uow.tallies.last_report_id()
        await uow.reports.add_batch("b4", minh.id, second.id, [NewReport("vneid", 1)], date(2026, 11, 4), "text", NOW)
    async with backend.uow() as uow:
        start, end = date(2026, 11, 1), date(2026, 11, 30)
        daily = await uow.tallies.daily("commune", commune.commune.id, start, end)
        assert sorted((d.village_id, d.service, d.day, d.households) for d in daily) == sorted([
            (first.id, "vneid", date(2026, 11, 2), 3), (second.id, "vneid", date(2026, 11, 4), 1)])  # no zeros
        detail = await uow.tallies.detail("commune", commune.commune.id, start, end)
        assert [(d.occurred_on, d.village, d.service, d.count, d.void_reason, d.member_name) for d in detail] == [
            (date(2026, 11, 2), "Thôn Một", "vneid", 3, None, "Lan"),
            (date(2026, 11, 2), "Thôn Một", "vneid", 2, "test", "Lan"),  # voided rows are in the detail
            (date(2026, 11, 3), "Thôn Hai", "none", 0, None, "Minh"),
            (date(2026, 11, 4), "Thôn Hai", "vneid", 1, None, "Minh"),
        ]
        assert detail[1].voided_at == NOW and detail[0].voided_at is None and detail[0].created_at == NOW
        assert len(await uow.tallies.detail("commune", commune.commune.id, start, end, upto=upto)) == 3
        assert await uow.tallies.last_report_id() == detail[-1].report_id


async def test_an_empty_database_has_no_last_report(backend: Database):
    async with backend.uow() as uow:
        assert await uow.tallies.last_report_id() == 0


# Targets --------------------------------------------------------------------------------------
async def test_targets_are_set_replaced_and_read_per_unit_and_year(backend: Database, commune):
    first, second = commune.villages
    async with backend.uow() as uow:
        await uow.targets.set(first.id, "vneid", 2026, "percent", 80, NOW)
        await uow.targets.set(first.id, "vneid", 2026, "absolute", 90, NOW)  # replaces
        await uow.targets.set_many([(first.id, "vneid", 2026, "percent", 10), (second.id, "vneid", 2026, "percent", 50),
                                    (first.id, "vneid", 2027, "percent_adults", 30)], NOW, keep_existing=True)
        with pytest.raises(ValueError):
            await uow.targets.set(first.id, "vneid", 2026, "ratio", 1, NOW)
    async with backend.uow() as uow:
        assert await uow.targets.for_units([first.id, second.id], 2026) == [
            Target(first.id, "vneid", 2026, "absolute", 90.0), Target(second.id, "vneid", 2026, "percent", 50.0)]
        assert await uow.targets.for_units([first.id], 2027) == [
            Target(first.id, "vneid", 2027, "percent_adults", 30.0)]
        assert await uow.targets.for_units([], 2026) == []
        await uow.targets.set_many([(first.id, "vneid", 2026, "percent", 10)], NOW)  # not kept: replaced
        assert await uow.targets.for_units([first.id], 2026) == [Target(first.id, "vneid", 2026, "percent", 10.0)]


# What the reminder planner reads ------------------------------------------------------------------
async def test_reachable_people_are_active_members_on_active_identities(backend: Database, commune):
    (lan, minh), (first, second) = commune.members, commune.villages
    async with backend.uow() as uow:
        await uow.members.set_status(minh.id, "disabled")
        other = await uow.units.add("commune", "XB", "Xã B")
        stranger = await uow.members.add("Người lạ", "member", other.id, NOW)
        await uow.members.link_identity(stranger.id, "telegram", "u-x", "c-x", NOW)
        # Lan on two channels is reached on the one she used last (linked last, until she writes).
        await uow.members.link_identity(lan.id, "zalo", "z-lan", "zc-lan", NOW)
        assert [(p.member_id, p.channel, p.chat_id) for p in await uow.reminders.people(commune.commune.id)] == [
            (commune.staff.id, "telegram", "c-staff"), (lan.id, "zalo", "zc-lan")]
        assert [p.member_id for p in await uow.reminders.people(commune.commune.id, [first.id])] == [lan.id]
        assert [p.chat_id for p in await uow.reminders.people_page(commune.commune.id, None, 0, 2)] == [
            "c-staff", "zc-lan"]
        # Her next message on Telegram (claimed with its sender) makes Telegram the one used last.
        await uow.open_inbound("telegram", "seen-1", "u-lan", "c-lan", NOW + timedelta(minutes=5))
        assert [p.chat_id for p in await uow.reminders.people_page(commune.commune.id, first.id, 0, 5)] == ["c-lan"]
        assert await uow.reminders.count_people(commune.commune.id, None, besides=commune.staff.id) == 1
        assert await uow.reminders.count_people(commune.commune.id, second.id, besides=0) == 0
        assert [p.chat_id for p in await uow.reminders.people_of_member(commune.commune.id, lan.id)] == ["c-lan"]
        await uow.members.set_identity_active("telegram", "c-lan", False)  # gone from there: the other one
        assert [p.chat_id for p in await uow.reminders.people_of_member(commune.commune.id, lan.id)] == ["zc-lan"]


async def test_communes_and_who_reported_in_a_period(backend: Database, commune):
    (lan, _), (first, second) = commune.members, commune.villages
    async with backend.uow() as uow:
        await uow.units.add("commune", "XB", "Xã B")
        await uow.reports.add_batch("b1", lan.id, first.id, [NewReport("none", 0)], DAY, "text", NOW)
        assert [code for _, code, _ in await uow.reminders.communes()] == ["XA", "XB"]
        assert [name for _, _, name in await uow.reminders.communes("XA")] == ["Xã A"]
        assert await uow.reminders.reported_villages(commune.commune.id, DAY, DAY) == {first.id}  # a zero counts
        next_week = (DAY + timedelta(days=1), DAY + timedelta(days=7))
        assert await uow.reminders.reported_villages(commune.commune.id, *next_week) == set()
        assert await uow.reminders.member_totals_in_village(first.id, DAY, DAY) == {lan.id: 0}
        assert await uow.reminders.member_totals_in_village(second.id, DAY, DAY) == {}


async def test_digest_preferences_and_one_off_deadlines(backend: Database, commune):
    lan = commune.members[0]
    async with backend.uow() as uow:
        assert await uow.reminders.digest_off() == set()
        await uow.reminders.set_digest(lan.id, False, NOW)
        assert await uow.reminders.digest_off() == {lan.id}
        await uow.reminders.set_digest(lan.id, True, NOW)
        assert await uow.reminders.digest_off() == set()
        start, due = date(2026, 12, 1), date(2026, 12, 20)
        added = await uow.reminders.add_deadline(commune.commune.id, "Chiến dịch", start, due, None, NOW)
        assert added is not None and (added.name, added.starts_on, added.due_on) == ("Chiến dịch", start, due)
        assert await uow.reminders.add_deadline(commune.commune.id, "Chiến dịch", start, due, None, NOW) is None
        earlier = await uow.reminders.add_deadline(commune.commune.id, "Sớm", start, date(2026, 12, 5), None, NOW)
        assert earlier is not None
        assert [d.id for d in await uow.reminders.deadlines(commune.commune.id)] == [earlier.id, added.id]


async def test_a_one_off_deadline_is_removed_with_its_waiting_reminders(backend: Database, commune):
    lan = commune.members[0]
    async with backend.uow() as uow:
        kept = await uow.reminders.add_deadline(commune.commune.id, "Giữ", date(2026, 12, 1), date(2026, 12, 5),
                                                None, NOW)
        gone = await uow.reminders.add_deadline(commune.commune.id, "Bỏ", date(2026, 12, 1), date(2026, 12, 20),
                                                None, NOW)
        assert kept is not None and gone is not None
        await uow.outbox.enqueue([NewMessage(f"cd-s{n.id}", n.due_on.isoformat(), "before", lan.id, "telegram",
                                             "1001", {"text": "nhắc"}, NOW) for n in (kept, gone)], NOW)
    async with backend.uow() as uow:
        assert await uow.reminders.remove_deadline(commune.commune.id + 999, gone.id, f"cd-s{gone.id}") is None
        removed = await uow.reminders.remove_deadline(commune.commune.id, gone.id, f"cd-s{gone.id}")
        assert removed == gone
        assert await uow.reminders.remove_deadline(commune.commune.id, gone.id, f"cd-s{gone.id}") is None
        assert [d.id for d in await uow.reminders.deadlines(commune.commune.id)] == [kept.id]
        statuses = {r[0]: r[6] for r in await uow.outbox.listing()}
    assert statuses == {f"cd-s{kept.id}": "pending", f"cd-s{gone.id}": "skipped"}
    async with backend.uow() as uow:  # the same name and day can be added again
        assert await uow.reminders.add_deadline(commune.commune.id, "Bỏ", date(2026, 12, 1), date(2026, 12, 20),
                                                None, NOW) is not None
