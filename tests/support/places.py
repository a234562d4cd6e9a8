"""The demo commune with places around it (``tests/fixtures/provinces.yaml``): another commune of
its province and a second province; in each village a member who has reported, an invite, and a
person of every role for the scope tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import yaml

from bot.services.demo import Demo
from bot.services.invites import create_invite
from storage import Database
from storage.models import NewReport, Unit

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "provinces.yaml"
HOME, SAME, OTHER = "home", "same_province", "other_province"


@dataclass
class Place:
    province: Unit
    commune: Unit
    village: Unit
    count: int  # the vneid households its member reported today
    member_id: int = 0
    report_id: int = 0
    invite: str = ""


@dataclass
class Places:
    places: dict[str, Place] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)  # role -> chat user id (the roles of the home side)

    def __getitem__(self, name: str) -> Place:
        return self.places[name]


async def seed_places(db: Database, demo: Demo, clock) -> Places:  # type: ignore[no-untyped-def]
    spec = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))
    now = clock.now()
    result = Places()
    async with db.uow() as uow:
        home_province = await uow.units.get(demo.commune.parent_id or 0)
        assert home_province is not None
        result.places[HOME] = Place(home_province, demo.commune, demo.villages[0].village, spec["home_count"])
        for name, place in spec["places"].items():
            province = home_province
            if "province" in place:
                province = await uow.units.add("province", place["province"]["code"], place["province"]["name"])
            commune = await uow.units.add("commune", place["commune"]["code"], place["commune"]["name"], province.id)
            v = place["village"]
            village = await uow.units.add("village", v["code"], v["name"], commune.id, v["households"], v["adults"])
            result.places[name] = Place(province, commune, village, place["count"])
        for name, place in result.places.items():
            member = await uow.members.add(f"Người báo {name}", "member", place.village.id, now)
            place.member_id = member.id
            await uow.reports.add_batch(f"scope-{name}", member.id, place.village.id,
                                        [NewReport("vneid", place.count)], clock.now().date(), "text", now)
            place.report_id = (await uow.reports.recent_page([place.village.id], None, 1))[0][0].id
            invite = await create_invite(uow, place.village.id, "member", now, timedelta(days=7), 5)
            place.invite = invite.code
        units = {"member": result[HOME].village, "leader": result[HOME].village, "staff": demo.commune,
                 "province_staff": home_province, "admin": demo.commune}
        for role, unit in units.items():
            user = f"scope-{role}"
            person = await uow.members.add(f"Người {role}", role, unit.id, now)
            await uow.members.link_identity(person.id, "telegram", user, user, now)
            result.users[role] = user
    return result
