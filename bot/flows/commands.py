"""Chat commands, who may use them and where: the one permission table.

Each feature declares its commands in its ``FEATURE``; ``bot.flows.registry`` collects them. A command names
the roles allowed to run it (``guest`` is a user who has not joined yet); anyone else
gets a short answer and nothing happens.

Where a member may look and act follows from their role and unit (:data:`SCOPE_OF_ROLE`,
:func:`scope_of`): a village member or leader their village, commune staff their commune,
province staff their province, an admin the whole deployment. Every command that takes a
place (a village, a commune, a member, a report) asks :func:`may_see` before it reads or changes
anything there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from bot.domain.messages import Reply
from bot.flows.context import Context
from storage import UnitOfWork
from storage.models import Unit

GUEST = "guest"
PROVINCE_STAFF = "province_staff"  # cán bộ tỉnh (Sở KH&CN): reads every commune of the province
MEMBERS = frozenset({"member", "leader"})
STAFF = frozenset({"staff", "admin"})
REGISTERED = MEMBERS | STAFF  # those who take part in a commune's reporting
READERS = REGISTERED | {PROVINCE_STAFF}  # those who read tallies and charts of their scope
OVERSEERS = STAFF | {PROVINCE_STAFF}  # those who read a whole commune or more: exports, targets
EVERYONE = READERS | {GUEST}

# The kind of unit a role's scope is: its member sees and acts on that unit of theirs and
# everything under it. None: the whole deployment (an admin).
SCOPE_OF_ROLE: Mapping[str, str | None] = {
    "member": "village", "leader": "village", "staff": "commune", PROVINCE_STAFF: "province", "admin": None,
}

Handler = Callable[[Context, str], Awaitable[list[Reply]]]


@dataclass(frozen=True)
class Command:
    names: tuple[str, ...]  # ASCII (Telegram allows nothing else); the first is canonical
    handler: Handler
    roles: frozenset[str]
    keeps_flow: bool = False  # True: the handler decides what happens to an ongoing flow


def role_of(ctx: Context) -> str:
    return ctx.member.role if ctx.member is not None else GUEST


@dataclass(frozen=True)
class Scope:
    """Where a member may look and act: ``unit`` and everything under it, or everything.

    ``unit`` is also where a command without a place works (an admin's own unit); None when the
    member's unit does not fit their role (then nothing is in scope, unless ``everywhere``)."""

    unit: Unit | None
    everywhere: bool = False

    def covers(self, lineage: list[Unit]) -> bool:
        """Is the unit whose ``lineage`` (itself, then its parents) this is inside the scope?"""
        if self.everywhere:
            return bool(lineage)
        return self.unit is not None and any(u.id == self.unit.id for u in lineage)


async def lineage(uow: UnitOfWork, unit_id: int | None) -> list[Unit]:
    """The unit and its parents, up to its province (at most three reads)."""
    chain: list[Unit] = []
    while unit_id is not None and len(chain) < 3:
        unit = await uow.units.get(unit_id)
        if unit is None:
            break
        chain.append(unit)
        unit_id = unit.parent_id
    return chain


async def scope_of(ctx: Context) -> Scope:
    """The one place that decides, by role and unit, which units the caller may see and act on."""
    if ctx.member is None:
        return Scope(None)
    chain = await lineage(ctx.uow, ctx.member.unit_id)
    level = SCOPE_OF_ROLE.get(ctx.member.role, "")
    if level is None:
        return Scope(chain[0] if chain else None, everywhere=True)
    return Scope(next((u for u in chain if u.kind == level), None))


async def may_see(ctx: Context, unit: Unit | int) -> bool:
    """May the caller see and act on ``unit`` (a unit or its id)?"""
    unit_id = unit if isinstance(unit, int) else unit.id
    return (await scope_of(ctx)).covers(await lineage(ctx.uow, unit_id))


async def communes_in_scope(ctx: Context) -> list[Unit]:
    """The communes a command without a place works on: the caller's commune, or the communes of
    their province (province staff, or an admin placed on a province)."""
    unit = (await scope_of(ctx)).unit
    if unit is None or unit.kind == "village":
        return []
    if unit.kind == "commune":
        return [unit]
    return [u for u in await ctx.uow.units.children(unit.id) if u.kind == "commune"]
