"""One resolver for the places, roles and people that commands take.

Every command that names a village, a commune, a role or a member goes through here, so
each understands the same things: a village by its code or its name, with or without
diacritics and its "thôn/ấp/khu phố/bản/tổ dân phố" word, or by an unambiguous start
of its name; the caller's own commune by code or name; a role in Vietnamese, with or
without diacritics and spaces ("tổ trưởng", "totruong"); a member by number or name.

What cannot be resolved raises :class:`~bot.flows.context.Refusal` with the answer: what
was typed (as typed), the candidates when it names several, and one example of the
command that fits (``example``: the command's own example, filled with a real name).
The places a caller may name come from the permission scope (:func:`scope_of`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.domain.messages import Markup
from bot.domain.places import Match, PlaceIndex
from bot.domain.textutil import fold
from bot.flows.commands import PROVINCE_STAFF, communes_in_scope
from bot.flows.context import Context, Refusal
from storage.models import Member, Unit

Example = Callable[[str], str]  # a real place (or member) name -> the command's example with it
MAX_CANDIDATES = 8
MAX_NAMES = 30
ROLE_WORDS = 3  # "tổ dân phố" style roles never take more words than this


# Scope ------------------------------------------------------------------------------------------
async def commune_ids(ctx: Context) -> list[int]:
    """The communes a command works on when none is named (``bot.flows.commands.communes_in_scope``)."""
    return [u.id for u in await communes_in_scope(ctx)]


async def villages_in_scope(ctx: Context) -> list[Unit]:
    villages: list[Unit] = []
    for commune_id in await commune_ids(ctx):
        villages.extend(u for u in await ctx.uow.units.children(commune_id) if u.kind == "village")
    return villages


@dataclass(frozen=True)
class Scope:
    """The units a caller may name: communes (staff, admins) and villages."""

    communes: tuple[Unit, ...]
    villages: tuple[Unit, ...]

    @property
    def units(self) -> tuple[Unit, ...]:
        return (*self.communes, *self.villages)


async def scope_of(ctx: Context) -> Scope:
    """The places a caller may name, inside their permission scope (``bot.flows.commands.scope_of``):
    staff and admins their communes and those communes' villages; province staff the communes of
    their province (a village is named after its commune); a member or leader their village."""
    assert ctx.member is not None
    if ctx.member.role == PROVINCE_STAFF:
        return Scope(tuple(await communes_in_scope(ctx)), ())
    if ctx.member.role in ("staff", "admin"):
        communes = [u for u in [await ctx.uow.units.get(i) for i in await commune_ids(ctx)] if u is not None]
        return Scope(tuple(communes), tuple(await villages_in_scope(ctx)))
    home = await ctx.uow.units.get(ctx.member.unit_id)
    return Scope((), (home,) if home is not None and home.kind == "village" else ())


# Names ------------------------------------------------------------------------------------------
def prefixes(ctx: Context) -> tuple[str, ...]:
    return ctx.content.vocabulary.place_prefixes


def index(ctx: Context, units: Sequence[Unit]) -> PlaceIndex[Unit]:
    return PlaceIndex(units, prefixes(ctx))


def short_name(ctx: Context, unit: Unit) -> str:
    """A unit's name as people say it, without the word of its kind: "Ấp Mỹ Phú" -> "Mỹ Phú"."""
    folded = fold(unit.name)
    bare = index(ctx, ()).bare(folded)
    if bare == folded or not bare:
        return unit.name
    return " ".join(unit.name.split()[-len(bare.split()):])


def village_word(ctx: Context, villages: Sequence[Unit]) -> str:
    """What a commune calls its villages, from their names: "ấp", "thôn", or "thôn, ấp"."""
    words = {fold(v.name)[: len(fold(v.name)) - len(index(ctx, ()).bare(fold(v.name)))].strip() for v in villages}
    words.discard("")
    known = {fold(w): w for w in prefixes(ctx)}
    if len(words) == 1:
        return known.get(next(iter(words)), ctx.t("places.village_word"))
    return str(ctx.t("places.village_word"))


async def home_village_word(ctx: Context) -> str:
    """What the caller's commune calls its villages ("ấp", "thôn"), for the help and welcome texts."""
    if ctx.member is None:
        return str(ctx.t("places.village_word"))
    unit = await ctx.uow.units.get(ctx.member.unit_id)
    commune_id = unit.parent_id if unit is not None and unit.kind == "village" else ctx.member.unit_id
    villages = [u for u in await ctx.uow.units.children(commune_id or 0) if u.kind == "village"]
    return village_word(ctx, villages)


def sample(ctx: Context, units: Sequence[Unit]) -> str:
    """A real name to show in an example (the first village's, without its prefix)."""
    return short_name(ctx, units[0]) if units else str(ctx.t("places.sample"))


def names_of(units: Sequence[Unit], limit: int = MAX_NAMES) -> str:
    shown = ", ".join(u.name for u in units[:limit])
    return shown + (", …" if len(units) > limit else "") if shown else "—"


# Places -----------------------------------------------------------------------------------------
def refusal(ctx: Context, match: Match[Unit], typed: str, units: Sequence[Unit], example: Example) -> Refusal:
    """The answer to a place that names none of ``units``, or several."""
    if match.ambiguous:
        candidates = list(match.places[:MAX_CANDIDATES])
        return Refusal(ctx.say("places.ambiguous", value=typed, names=names_of(candidates),
                               example=example(short_name(ctx, candidates[0]))))
    villages = [u for u in units if u.kind == "village"] or list(units)
    return Refusal(ctx.reply(Markup.lines([
        ctx.t("places.not_found", value=typed),
        ctx.t("places.known", names=names_of(villages)),
        ctx.t("places.example", example=example(sample(ctx, villages))),
    ])))


def find(ctx: Context, units: Sequence[Unit], typed: str, example: Example) -> Unit:
    """The one unit ``typed`` (all of it) names; Refusal otherwise."""
    match = index(ctx, units).match(typed)
    if match.found is None:
        raise refusal(ctx, match, typed.strip(), units, example)
    return match.found


def take(ctx: Context, units: Sequence[Unit], words: Sequence[str], example: Example,
         from_end: bool = False, loose: bool = True) -> tuple[Unit | None, list[str]]:
    """The unit the first (``from_end``: last) words name, and the other words; (None, words)
    if they name none; Refusal if they name several."""
    places = index(ctx, units)
    match = places.trailing(words, loose) if from_end else places.leading(words, loose)
    if match.ambiguous:
        typed = " ".join(words[len(words) - match.words:] if from_end else words[:match.words])
        raise refusal(ctx, match, typed, units, example)
    if match.found is None:
        return None, list(words)
    rest = words[: len(words) - match.words] if from_end else words[match.words:]
    return match.found, list(rest)


# Roles ------------------------------------------------------------------------------------------
def role_of_words(ctx: Context, words: Sequence[str]) -> str | None:
    """The role ``words`` (all of them) name: "tổ trưởng", "to truong", "totruong"."""
    vocabulary = ctx.content.vocabulary
    return vocabulary.role(" ".join(words)) or vocabulary.role("".join(words))


def take_role(ctx: Context, words: Sequence[str]) -> tuple[str | None, list[str]]:
    """A role named by the last words (up to three), and the words before it."""
    for n in range(min(ROLE_WORDS, len(words)), 0, -1):
        role = role_of_words(ctx, words[len(words) - n:])
        if role is not None:
            return role, list(words[: len(words) - n])
    return None, list(words)


def role_names(ctx: Context) -> str:
    return ", ".join(str(ctx.t(f"roles.{role}")) for role in ("member", "leader", "staff"))


# People -----------------------------------------------------------------------------------------
async def find_member(ctx: Context, units: Sequence[Unit], typed: str, example: Example,
                      roles: frozenset[str] | None = None) -> Member:
    """A member of ``units`` by number ("12", "#12") or by name (the whole name or its start,
    with or without diacritics); Refusal when none or several match."""
    text = typed.strip()
    unit_ids = {u.id for u in units}
    people: list[Member] = []
    number = text.lstrip("#")
    if number.isdigit():
        member = await ctx.uow.members.get(int(number))
        if member is not None and member.unit_id in unit_ids and member.status != "forgotten" \
                and (roles is None or member.role in roles):
            return member
    elif text:
        wanted = fold(text)
        for unit in units:
            for member in await ctx.uow.members.in_unit(unit.id):
                if member.status == "forgotten" or (roles is not None and member.role not in roles):
                    continue
                name = fold(member.name or "")
                if name == wanted:
                    return member
                if name and (name.startswith(wanted) or f" {wanted}" in f" {name}"):
                    people.append(member)
        if len(people) == 1:
            return people[0]
    if len(people) > 1:
        listed = ", ".join(f"#{m.id} {m.name}" for m in people[:MAX_CANDIDATES])
        raise Refusal(ctx.say("people.ambiguous", value=text, names=listed, example=example(str(people[0].id))))
    shown = await some_member(ctx, units, roles)
    if not text:
        raise Refusal(ctx.say("people.missing", example=example(shown)))
    raise Refusal(ctx.say("people.not_found", value=text, example=example(shown)))


async def some_member(ctx: Context, units: Sequence[Unit], roles: frozenset[str] | None = None) -> str:
    """The number of a real member of ``units`` (other than the caller), for an example."""
    for unit in units:
        for member in await ctx.uow.members.in_unit(unit.id):
            if member.status != "forgotten" and (roles is None or member.role in roles) \
                    and (ctx.member is None or member.id != ctx.member.id):
                return str(member.id)
    return "12"

