"""The storage contract, every backend: units, members and their channel identities, invites,
conversations and the audit trail."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from support.helpers import NOW

from storage import Database
from storage.models import Conversation, NewReport


# Units ----------------------------------------------------------------------------------------
async def test_units_are_found_by_code_within_their_parent(backend: Database):
    async with backend.uow() as uow:
        commune = await uow.units.add("commune", "XA", "Xã A")
        other = await uow.units.add("commune", "XB", "Xã B")
        here = await uow.units.add("village", "T1", "Thôn Một", commune.id, 100, 250)
        there = await uow.units.add("village", "T1", "Thôn Một Khác", other.id)  # the same code elsewhere
        assert await uow.units.get(here.id) == here
        assert await uow.units.by_code("commune", "XB") == other
        assert await uow.units.by_code("village", "T1", commune.id) == here
        assert await uow.units.by_code("village", "T1", other.id) == there
        assert await uow.units.by_code("village", "T9", commune.id) is None
        assert await uow.units.get(999_999) is None


async def test_a_commune_code_is_taken_once(backend: Database):
    async with backend.uow() as uow:
        await uow.units.add("commune", "XA", "Xã A")
    with pytest.raises(Exception):  # noqa: B017 - each backend raises its driver's integrity error
        async with backend.uow() as uow:
            await uow.units.add("commune", "XA", "Xã A lần hai")
    async with backend.uow() as uow:
        assert (await uow.units.by_code("commune", "XA")).name == "Xã A"  # type: ignore[union-attr]


async def test_a_unit_is_renamed_refigured_and_hidden(backend: Database, commune):
    village = commune.villages[0]
    async with backend.uow() as uow:
        await uow.units.update(village.id, "Thôn Một Mới", 120, None)
        await uow.units.set_active(village.id, False)
    async with backend.uow() as uow:
        changed = await uow.units.get(village.id)
        assert changed is not None
        assert (changed.name, changed.households, changed.adults, changed.active) == ("Thôn Một Mới", 120, None, False)
        assert [u.name for u in await uow.units.children(commune.commune.id)] == ["Thôn Hai", "Thôn Một Mới"]


# Members and identities -------------------------------------------------------------------------
async def test_members_are_found_by_identity_name_and_unit(backend: Database, commune):
    lan, minh = commune.members
    async with backend.uow() as uow:
        assert await uow.members.by_identity("telegram", "u-lan") == lan
        assert await uow.members.by_identity("zalo", "u-lan") is None  # an identity is per channel
        assert await uow.members.by_name("Minh") == minh
        assert await uow.members.get(lan.id) == lan
        assert await uow.members.in_unit(commune.villages[0].id) == [lan]
        await uow.members.set_role(lan.id, "leader")
        await uow.members.set_status(minh.id, "disabled")
    async with backend.uow() as uow:
        assert (await uow.members.get(lan.id)).role == "leader"  # type: ignore[union-attr]
        disabled = await uow.members.get(minh.id)
        assert disabled is not None and disabled.status == "disabled" and not disabled.active


async def test_an_identity_belongs_to_one_member(backend: Database, commune):
    with pytest.raises(Exception):  # noqa: B017 - each backend raises its driver's integrity error
        async with backend.uow() as uow:
            await uow.members.link_identity(commune.members[1].id, "telegram", "u-lan", "c-other", NOW)
    async with backend.uow() as uow:
        assert await uow.members.by_identity("telegram", "u-lan") == commune.members[0]


async def test_an_identity_is_switched_off_and_on_by_chat(backend: Database, commune):
    async with backend.uow() as uow:
        assert await uow.members.set_identity_active("telegram", "c-lan", False) == 1
        assert await uow.members.set_identity_active("telegram", "c-nobody", False) == 0
        people = await uow.reminders.people(commune.commune.id)
        assert commune.members[0].id not in {p.member_id for p in people}  # unreachable: no reminders
        assert await uow.members.set_identity_active("telegram", "c-lan", True) == 1
        assert commune.members[0].id in {p.member_id for p in await uow.reminders.people(commune.commune.id)}


async def test_roster_and_pages_show_channels_and_the_last_live_report(backend: Database, commune):
    lan, minh = commune.members
    first, second = commune.villages
    async with backend.uow() as uow:
        await uow.reports.add_batch("b1", lan.id, first.id, [NewReport("vneid", 2)], date(2026, 11, 20), "text", NOW)
        await uow.reports.add_batch("b2", lan.id, first.id, [NewReport("vneid", 1)], date(2026, 11, 21), "text", NOW)
        await uow.reports.void_batch("b2", lan.id, "test", NOW)  # a voided report is not the last one
        roster = await uow.members.roster(commune.commune.id)
        assert [(r[1], r[2], r[3], r[7], r[8]) for r in roster] == [
            ("Lan", "member", "T1", "telegram", "2026-11-20"),
            ("Minh", "member", "T2", "zalo", None),
            ("Cán bộ", "staff", "XA", "telegram", None),
        ]
        units = [first.id, second.id]
        page = await uow.members.page(units, None, 1)
        assert [(r[0], r[1], r[5], r[6]) for r in page] == [(lan.id, "Lan", "telegram", "2026-11-20")]
        assert [r[0] for r in await uow.members.page(units, lan.id, 5)] == [minh.id]
        assert await uow.members.page(units, minh.id, 5) == []


async def test_forgetting_a_member_erases_the_person_and_keeps_the_counts(backend: Database, commune):
    lan = commune.members[0]
    village = commune.villages[0]
    async with backend.uow() as uow:
        await uow.reports.add_batch("b1", lan.id, village.id, [NewReport("vneid", 3)], NOW.date(), "text", NOW)
        await uow.conversations.save("telegram", "c-lan", Conversation("report", "count", {"service": "vneid"}), NOW)
        assert await uow.members.forget(lan.id) == [("telegram", "c-lan")]
    async with backend.uow() as uow:
        forgotten = await uow.members.get(lan.id)
        assert forgotten is not None and forgotten.name is None and forgotten.status == "forgotten"
        assert await uow.members.by_identity("telegram", "u-lan") is None
        assert (await uow.conversations.load("telegram", "c-lan")).idle
        assert [(r.member_id, r.count) for r in await uow.reports.all_for_village(village.id)] == [(lan.id, 3)]
        assert [r[0] for r in await uow.members.page([village.id], None, 10)] == []  # off the roster pages


# Invites --------------------------------------------------------------------------------------
async def test_invite_uses_never_exceed_the_limit(backend: Database):
    async with backend.uow() as uow:
        commune = await uow.units.add("commune", "C1", "Xã Một")
        await uow.invites.add("ABC234", commune.id, "member", NOW + timedelta(days=1), 2, NOW)
        assert [await uow.invites.use("ABC234") for _ in range(3)] == [True, True, False]
        invite = await uow.invites.get("ABC234")
        assert invite is not None and invite.uses == 2 and not invite.usable(NOW)


async def test_a_revoked_invite_is_revoked_once_and_used_never(backend: Database, commune):
    async with backend.uow() as uow:
        await uow.invites.add("REV234", commune.villages[0].id, "member", NOW + timedelta(days=7), 50, NOW)
        assert await uow.invites.revoke("REV234", NOW)
        assert not await uow.invites.revoke("REV234", NOW)  # already revoked
        assert not await uow.invites.revoke("NOSUCH", NOW)
        assert not await uow.invites.use("REV234")
        invite = await uow.invites.get("REV234")
        assert invite is not None and invite.revoked_at is not None and invite.uses == 0 and not invite.usable(NOW)


async def test_usable_invites_leave_out_revoked_used_up_and_expired_ones(backend: Database, commune):
    first, second = commune.villages
    async with backend.uow() as uow:
        for n, (unit, days, uses) in enumerate([(first, 7, 5), (first, 1, 5), (second, 7, 1), (first, 7, 5),
                                               (second, 7, 5)]):
            await uow.invites.add(f"INV{n}", unit.id, "member", NOW + timedelta(days=days), uses,
                                  NOW + timedelta(minutes=n))
        await uow.invites.revoke("INV3", NOW)
        assert await uow.invites.use("INV2")  # its only use
        later = NOW + timedelta(days=2)  # INV1 has expired by then
        assert not (await uow.invites.get("INV1")).usable(later)  # type: ignore[union-attr]
        usable = await uow.invites.usable_page([first.id, second.id], later, None, 10)
        assert [i.code for i in usable] == ["INV0", "INV4"]
        assert [i.code for i in await uow.invites.usable_page([first.id, second.id], later, None, 1)] == ["INV0"]
        assert [i.code for i in await uow.invites.usable_page([first.id, second.id], later, "INV0", 1)] == ["INV4"]
        assert await uow.invites.usable_page([], later, None, 10) == []
        assert [i.code for i in await uow.invites.for_unit(first.id)] == ["INV0", "INV1", "INV3"]


# Conversations --------------------------------------------------------------------------------
async def test_a_conversation_is_saved_replaced_and_loaded_per_chat(backend: Database):
    async with backend.uow() as uow:
        assert (await uow.conversations.load("telegram", "c1")).idle
        await uow.conversations.save("telegram", "c1", Conversation("report", "count", {"dịch vụ": "vneid"}, 1), NOW)
        await uow.conversations.save("zalo", "c1", Conversation("join", "code", {}, 1), NOW)
    async with backend.uow() as uow:
        saved = await uow.conversations.load("telegram", "c1")
        assert saved == Conversation("report", "count", {"dịch vụ": "vneid"}, 1)
        await uow.conversations.save("telegram", "c1", Conversation("report", "day", {"n": [1, 2]}, 2), NOW)
    async with backend.uow() as uow:
        assert await uow.conversations.load("telegram", "c1") == Conversation("report", "day", {"n": [1, 2]}, 2)
        assert await uow.conversations.load("zalo", "c1") == Conversation("join", "code", {}, 1)


# The audit trail ------------------------------------------------------------------------------
async def test_audit_is_newest_first_with_the_actor_and_per_commune(backend: Database, commune):
    async with backend.uow() as uow:
        other = await uow.units.add("commune", "XB", "Xã B")
        await uow.audit.add(commune.staff.id, "invite", "unit:1", NOW, {"vai trò": "member"}, commune.commune.id)
        await uow.audit.add(None, "member_forget", "member:2", NOW + timedelta(minutes=1), unit_id=commune.commune.id)
        await uow.audit.add(None, "invite", "unit:9", NOW, unit_id=other.id)
    async with backend.uow() as uow:
        entries = await uow.audit.latest(unit_ids=[commune.commune.id])
        assert [(e.action, e.object, e.detail, e.actor_name, e.actor_id) for e in entries] == [
            ("member_forget", "member:2", {}, None, None),
            ("invite", "unit:1", {"vai trò": "member"}, "Cán bộ", commune.staff.id),
        ]
        assert entries[1].at == NOW
        assert [e.object for e in await uow.audit.latest(limit=2)] == ["unit:9", "member:2"]
