"""The storage contract, every backend: each row of a large table carries the commune it belongs
to (reports, their monthly roll-up, audit, outbox), whichever repository wrote it, so that a
national deployment can distribute them by commune."""

from __future__ import annotations

from datetime import date

from support import peek
from support.helpers import NOW

from storage import Database
from storage.models import NewMessage, NewReport


async def test_every_large_row_names_its_commune(backend: Database, commune):
    lan, minh = commune.members
    other = None
    async with backend.uow() as uow:
        other = await uow.units.add("commune", "XB", "Xã B")
        far = await uow.units.add("village", "B1", "Thôn Xa", other.id, 50, 120)
        await uow.reports.add_batch("b1", lan.id, commune.villages[0].id, [NewReport("vneid", 3)], date(2026, 11, 2),
                                    "text", NOW)
        await uow.reports.add_batch("b2", minh.id, far.id, [NewReport("chu_ky_so", 2)], date(2026, 11, 3), "text", NOW)
        [old] = await uow.reports.batch("b1", lan.id)
        await uow.reports.supersede(old, 5, commune.staff.id, "sửa", NOW)
        await uow.audit.add(commune.staff.id, "invite.create", "invite:X", NOW, unit_id=commune.villages[1].id)
        await uow.audit.add(commune.staff.id, "targets.set", "targets", NOW, unit_id=commune.commune.id)
        await uow.audit.add(None, "commune.add", "unit:1", NOW)
        await uow.outbox.enqueue([
            NewMessage("thang", "2026-11", "due", lan.id, "telegram", "c-lan", {"text": "Nhắc"}, NOW),
            NewMessage("thang", "2026-11", "due", commune.staff.id, "telegram", "c-staff", {"text": "Nhắc"}, NOW),
            NewMessage("thang", "2026-11", "due", None, "telegram", "c-none", {"text": "Nhắc"}, NOW),
        ], NOW)
    home = commune.commune.id
    assert await peek.rows(backend, "reports", "count, commune_id", order="id") == [(3, home), (2, other.id),
                                                                                    (5, home)]
    assert await peek.rows(backend, "report_months", "service, households, commune_id", order="service") == [
        ("chu_ky_so", 2, other.id), ("vneid", 5, home)]
    assert await peek.rows(backend, "audit", "action, commune_id", order="id") == [
        ("invite.create", home), ("targets.set", home), ("commune.add", None)]
    assert await peek.rows(backend, "outbox", "chat_id, commune_id", order="id") == [
        ("c-lan", home), ("c-staff", home), ("c-none", None)]
