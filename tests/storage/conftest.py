"""The storage contract suite runs once per backend: every test that takes ``backend`` gets an
opened ``storage.Database`` made by ``bot.runtime.backend.database_from_url``, the way the bot
makes one from ``TCNS_DB``, on an empty migrated database of its own.

Adding a backend is one entry in ``support.backends.ALL``: ``"sqlite"`` is a file in the test's temporary
folder; any other name ``x`` takes its URL from a fixture named ``x_url`` (a fresh migrated
database for each test, dropped afterwards), which that backend's test support provides.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.backends import BACKENDS, fresh
from support.helpers import NOW

from bot.runtime.backend import database_from_url
from storage import Database
from storage.models import Member, Unit


@pytest.fixture(params=BACKENDS)
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return fresh(request, request.param, tmp_path, "contract.db")


@pytest.fixture
async def backend(backend_url: str) -> AsyncIterator[Database]:
    db = await database_from_url(backend_url).open()
    try:
        yield db
    finally:
        await db.close()


@dataclass(frozen=True)
class Commune:
    """A commune with two villages, a staff member and a member of each village."""

    commune: Unit
    villages: tuple[Unit, Unit]
    staff: Member
    members: tuple[Member, Member]


@pytest.fixture
async def commune(backend: Database) -> Commune:
    """The contract tests' commune (:class:`Commune`), stored in ``backend``."""
    async with backend.uow() as uow:
        commune = await uow.units.add("commune", "XA", "Xã A")
        first = await uow.units.add("village", "T1", "Thôn Một", commune.id, 100, 250)
        second = await uow.units.add("village", "T2", "Thôn Hai", commune.id, 80, 200)
        staff = await uow.members.add("Cán bộ", "staff", commune.id, NOW)
        lan = await uow.members.add("Lan", "member", first.id, NOW)
        minh = await uow.members.add("Minh", "member", second.id, NOW)
        await uow.members.link_identity(staff.id, "telegram", "u-staff", "c-staff", NOW)
        await uow.members.link_identity(lan.id, "telegram", "u-lan", "c-lan", NOW)
        await uow.members.link_identity(minh.id, "zalo", "u-minh", "c-minh", NOW)
    return Commune(commune, (first, second), staff, (lan, minh))
