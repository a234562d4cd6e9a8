"""The demo commune: seeded from ``content/demo.yaml``, reused when it already exists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.content import Content, ContentError
from bot.domain.tally import TargetRefusal, fit_target, parse_target
from bot.services.invites import create_invite
from storage import Database, UnitOfWork
from storage.models import Invite, Unit

STAFF_USER = "canbo"
TERMINAL = "terminal"
DEMO_INVITE_DAYS = 365
DEMO_INVITE_USES = 20


@dataclass(frozen=True)
class DemoVillageCodes:
    village: Unit
    member_code: str
    leader_code: str


@dataclass(frozen=True)
class Demo:
    commune: Unit
    villages: list[DemoVillageCodes]
    staff_user: str


async def _usable_invite(uow: UnitOfWork, unit_id: int, role: str, now: datetime) -> Invite:
    for invite in await uow.invites.for_unit(unit_id):
        if invite.role == role and invite.usable(now) and invite.expires_at - now > timedelta(days=7):
            return invite
    return await create_invite(
        uow, unit_id, role, now, timedelta(days=DEMO_INVITE_DAYS), max_uses=DEMO_INVITE_USES
    )


async def _seed_targets(uow: UnitOfWork, content: Content, villages: list[Unit], now: datetime) -> None:
    """The demo's yearly targets for the current year; targets already set are kept. A share is
    of what the service counts (households or adults), as /chitieu reads it."""
    rows = []
    for service, text in content.demo.targets.items():
        parsed = parse_target(text)
        where = f"{content.directory / 'demo.yaml'}: field 'targets.{service}'"
        if content.catalogue.get(service) is None or parsed is None:
            raise ContentError(f"{where}: needs a service code and a target such as 80% or 120")
        counts = content.catalogue.unit_of(service, content.demo.code)
        for village in villages:
            fitted = fit_target(counts, parsed, None, village.households, village.adults)
            if isinstance(fitted, TargetRefusal):
                raise ContentError(f"{where}: {text} does not fit a service counting {counts} "
                                   f"({fitted.reason}, {village.code})")
            rows.append((village.id, service, now.year, *fitted))
    await uow.targets.set_many(rows, now, keep_existing=True)


async def seed_demo(db: Database, content: Content, now: datetime) -> Demo:
    spec = content.demo
    async with db.uow() as uow:
        province = await uow.units.by_code("province", spec.province_code)
        if province is None:
            province = await uow.units.add("province", spec.province_code, spec.province)
        commune = await uow.units.by_code("commune", spec.code)
        if commune is None:
            commune = await uow.units.add("commune", spec.code, spec.name, parent_id=province.id)
        codes = []
        for village_spec in spec.villages:
            village = await uow.units.by_code("village", village_spec.code, commune.id)
            if village is None:
                village = await uow.units.add(
                    "village", village_spec.code, village_spec.name, commune.id,
                    village_spec.households, village_spec.adults,
                )
            member_invite = await _usable_invite(uow, village.id, "member", now)
            leader_invite = await _usable_invite(uow, village.id, "leader", now)
            codes.append(DemoVillageCodes(village, member_invite.code, leader_invite.code))
        await _seed_targets(uow, content, [c.village for c in codes], now)
        if await uow.members.by_identity(TERMINAL, STAFF_USER) is None:
            staff = await uow.members.add(spec.staff_name, "staff", commune.id, now)
            await uow.members.link_identity(staff.id, TERMINAL, STAFF_USER, STAFF_USER, now)
    return Demo(commune, codes, STAFF_USER)
