"""Villages and targets from the chat (commune staff and admins).

    /thon                                list villages with households and adults
    /thon them MÃ TÊN                    add a village
    /thon doiten MÃ TÊN MỚI              rename
    /thon so MÃ HỘ NGƯỜI                 set households and adults
    /thon an MÃ, /thon hien MÃ           deactivate (never deleted; reports stay) / reactivate
    /chitieu THÔN|xa DỊCH-VỤ NĂM GIÁ-TRỊ[%] [người|hộ]   a yearly target: a share of what the
                                         service counts (households, or adults for a service
                                         counting people), or a number of it; refused when it
                                         compares unlike things or exceeds the unit's figure
    /chitieu tinh DỊCH-VỤ NĂM GIÁ-TRỊ[%] [người]      the province's own (province staff, an admin)

Commands: /thon [them|doiten|so|an|hien] (staff) /chitieu (staff, province staff)
Steps:    none; pages of /thon by global action
Tables:   units, targets, audit
Texts:    content/texts/villages.yaml
"""

from __future__ import annotations

import re

from bot.domain.catalogue import Counts
from bot.domain.cleantext import clean_line
from bot.domain.messages import Reply
from bot.domain.report_parser import parse_report
from bot.domain.tally import TargetRefusal, fit_target, parse_target
from bot.domain.tally import number as thousands
from bot.domain.textutil import fold
from bot.flows import resolve
from bot.flows.commands import OVERSEERS, PROVINCE_STAFF, STAFF, Command, lineage, may_see
from bot.flows.context import Context
from bot.flows.feature import Feature
from bot.flows.free_text import refuse_personal_data
from bot.flows.paging import PAGE_LINES, fit, more_action, on_more, page
from bot.flows.resolve import commune_ids
from storage.models import Unit

CODE = re.compile(r"^[A-Za-z0-9_-]{1,20}$")
MAX_NAME = 80
MAX_FIGURE = 10_000_000
TARGET = re.compile(r"^(\d+(?:[.,]\d+)?)(%?)$")


async def _commune(ctx: Context) -> Unit | None:
    communes = await commune_ids(ctx)
    return await ctx.uow.units.get(communes[0]) if len(communes) == 1 else None


async def _village(ctx: Context, commune: Unit, code: str) -> Unit | None:
    return await ctx.uow.units.by_code("village", code.upper(), commune.id)


async def villages(ctx: Context, args: str) -> list[Reply]:
    assert ctx.member is not None
    commune = await _commune(ctx)
    if commune is None:
        return [ctx.say("villages.one_commune")]
    words = args.split()
    action = fold(words[0]) if words else ""
    if not words:
        return await listing(ctx, 0, 1, None)
    if action == "them":
        return await _add(ctx, commune, words[1:])
    known = [u for u in await ctx.uow.units.children(commune.id) if u.kind == "village"]
    if action not in ("doiten", "so", "an", "hien") or len(words) < (3 if action == "doiten" else 2):
        return [_usage(ctx, known)]

    def example(place: str) -> str:
        return ctx.t(f"villages.examples.{action}", place=place)

    if action == "so":  # /thon so TÊN HỘ NGƯỜI: the figures are the last two words
        village, rest = resolve.find(ctx, known, " ".join(words[1:-2]) or words[1], example), words[-2:]
    elif action == "doiten":  # /thon doiten TÊN TÊN-MỚI: the longest start that names a village
        village, rest = resolve.take(ctx, known, words[1:-1], example)
        rest = [*rest, words[-1]]
        if village is None:
            village = resolve.find(ctx, known, words[1], example)
    else:
        village, rest = resolve.find(ctx, known, " ".join(words[1:]), example), []
    name = clean_line(" ".join(rest), MAX_NAME)
    if action == "doiten" and rest:
        refused = _bad_name(ctx, village.code, name)
        if refused is not None:
            return [refused]
    if action == "doiten" and rest:
        await ctx.uow.units.update(village.id, name, village.households, village.adults)
        return await _done(ctx, commune, village, "village_rename",
                           ctx.say("villages.renamed", code=village.code, new=name), new=name, old=village.name)
    if action == "so" and len(rest) == 2 and all(w.isdigit() and int(w) <= MAX_FIGURE for w in rest):
        await ctx.uow.units.update(village.id, village.name, int(rest[0]), int(rest[1]))
        households, adults = int(rest[0]), int(rest[1])
        return await _done(ctx, commune, village, "village_figures",
                           ctx.say("villages.figures", name=village.name, households=thousands(households),
                                   adults=thousands(adults)),
                           households=households, adults=adults)
    if action in ("an", "hien") and not rest:
        shown = action == "hien"
        await ctx.uow.units.set_active(village.id, shown)
        return await _done(ctx, commune, village, "village_hien" if shown else "village_an",
                           ctx.say("villages.hien" if shown else "villages.an", name=village.name))
    return [_usage(ctx, known)]


def _usage(ctx: Context, villages: list[Unit]) -> Reply:
    return ctx.say("villages.usage", place=resolve.sample(ctx, villages))


async def _add(ctx: Context, commune: Unit, words: list[str]) -> list[Reply]:
    """/thon them MÃ TÊN: a new village, by the code it will be known by."""
    if len(words) < 2 or not CODE.match(words[0]):
        return [ctx.say("villages.add_usage")]
    code, rest = words[0].upper(), words[1:]
    name = clean_line(" ".join(rest), MAX_NAME)
    refused = _bad_name(ctx, code, name)
    if refused is not None:
        return [refused]
    if await _village(ctx, commune, code) is not None:
        return [ctx.say("villages.exists", code=code)]
    village = await ctx.uow.units.add("village", code, name, commune.id, 0, 0)
    return await _done(ctx, commune, village, "village_add",
                       ctx.say("villages.added", name=village.name, code=village.code))


def _bad_name(ctx: Context, code: str, name: str) -> Reply | None:
    """A new village name (with its code) that cannot be stored: nothing visible, or resident data."""
    if not name:
        return ctx.say("bad_input.no_visible_name")
    return refuse_personal_data(ctx, code, name)


async def listing(ctx: Context, _filter: int, number: int, after: int | None) -> list[Reply]:
    """One page of the commune's villages by name, from just after village ``after``; the usage
    comes with the first page."""
    commune = await _commune(ctx)
    if commune is None:
        return [ctx.say("villages.one_commune")]
    units = sorted((u for u in await ctx.uow.units.children(commune.id) if u.kind == "village"),
                   key=lambda u: (u.name, u.id))
    if after is not None:
        position = next((i for i, u in enumerate(units) if u.id == after), None)
        units = units[position + 1:] if position is not None else []
        if not units:
            return [ctx.say("paging.end")]
    lines = [ctx.t("villages.line" if u.active else "villages.line_hidden", code=u.code, name=u.name,
                   households=thousands(u.households or 0), adults=thousands(u.adults or 0))
             for u in units[:PAGE_LINES + 1]]
    shown = fit(lines)
    more = more_action("th", 0, number + 1, units[shown - 1].id) if shown < len(units) else None
    if number == 1:
        return [page(ctx, ctx.t("villages.header", commune=commune.name), lines[:shown], more,
                     footer=ctx.t("villages.usage", place=resolve.sample(ctx, units)))]
    return [page(ctx, ctx.t("paging.villages_next", commune=commune.name, page=number), lines[:shown], more)]


async def _done(ctx: Context, commune: Unit, village: Unit, action: str, reply: Reply,
                **details: object) -> list[Reply]:
    """The change is audited (with ``details``) and ``reply`` says it is done."""
    assert ctx.member is not None
    await ctx.uow.audit.add(ctx.member.id, action, f"unit:{village.id}", ctx.now,
                            {k: str(v) for k, v in details.items()} or None, unit_id=commune.id)
    return [reply]


async def _province(ctx: Context) -> Unit | None:
    """The caller's province, if they may act on it (province staff, an admin)."""
    assert ctx.member is not None
    province = next((u for u in await lineage(ctx.uow, ctx.member.unit_id) if u.kind == "province"), None)
    return province if province is not None and await may_see(ctx, province) else None


async def target(ctx: Context, args: str) -> list[Reply]:
    assert ctx.member is not None
    words = args.split()
    vocabulary = ctx.content.vocabulary
    # "80% người": a share of the adults; "80% hộ": of the households
    said = vocabulary.said_kind(words[-1]) if words else None
    if said is not None:
        words = words[:-1]
    usage = "chat_targets.province_usage" if ctx.member.role == PROVINCE_STAFF else "chat_targets.usage"
    if len(words) < 4:
        return [ctx.say(usage)]
    value_word, year_word, head = words[-1], words[-2], words[:-2]
    whole_province = vocabulary.lead(head[:-1], vocabulary.province)  # "tỉnh", "toàn tỉnh"
    if whole_province or ctx.member.role == PROVINCE_STAFF:  # the province's own target
        province = await _province(ctx)
        if province is None or not whole_province:
            return [ctx.say(usage)]
        home, unit, service_words = province, province, head[whole_province:]
    else:
        commune = await _commune(ctx)
        if commune is None:
            return [ctx.say("chat_targets.usage")]
        home = commune
        known = [u for u in await ctx.uow.units.children(commune.id) if u.kind == "village"]
        whole = vocabulary.lead(head[:-1], vocabulary.commune)  # "xã", "cả xã"
        if whole:
            unit, service_words = commune, head[whole:]
        else:  # a village (or the commune itself) by code or name; the service is what follows
            unit, service_words = resolve.take(ctx, [commune, *known], head[:-1],
                                               lambda place: ctx.t("chat_targets.example", place=place))
            service_words = [*service_words, head[-1]]
        if unit is None:
            raise resolve.refusal(ctx, resolve.index(ctx, known).match(head[0]), head[0], known,
                                  lambda place: ctx.t("chat_targets.example", place=place))
    service = _service(ctx, " ".join(service_words))
    if service is None or not year_word.isdigit() or not 2020 <= int(year_word) <= 2100 \
            or TARGET.match(value_word.replace(",", ".")) is None:
        return [ctx.say("chat_targets.usage")]
    parsed = parse_target(value_word)
    if parsed is None:
        return [ctx.say("chat_targets.bad_value")]
    counts = ctx.content.catalogue.unit_of(service, home.code if home.kind == "commune" else None)
    households, adults = await _figures(ctx, unit)
    fitted = fit_target(counts, parsed, said, households, adults)
    label = ctx.content.catalogue.get(service).short  # type: ignore[union-attr]
    if isinstance(fitted, TargetRefusal):
        return [_refused(ctx, fitted, counts, label, unit, service, year_word, value_word)]
    kind, value = fitted
    await ctx.uow.targets.set(unit.id, service, int(year_word), kind, value, ctx.now)
    await ctx.uow.audit.add(ctx.member.id, "target", f"unit:{unit.id}", ctx.now,
                            {"service": service, "year": year_word, "value": value_word, "kind": kind},
                            unit_id=home.id)
    return [ctx.say("chat_targets.set", unit=unit.name, service=label, year=year_word,
                    value=target_text(ctx, kind, value_word.rstrip("%"), counts))]


def target_text(ctx: Context, kind: str, value: str, counts: Counts) -> str:
    """A target as a person reads it: "80% số hộ", "30% số người lớn", "200 lượt"."""
    if kind == "percent":
        return str(ctx.t("chat_targets.share_of_households", value=value))
    if kind == "percent_adults":
        return str(ctx.t("chat_targets.share_of_adults", value=value))
    shown = thousands(int(float(value))) if value.replace(".", "").isdigit() else value
    return str(ctx.t("chat_targets.number", value=shown, unit=ctx.content.catalogue.word(counts)))


async def _figures(ctx: Context, unit: Unit) -> tuple[int | None, int | None]:
    """The households and adults of a village, or of all the villages of a commune."""
    if unit.kind == "village":
        return unit.households, unit.adults
    villages = [u for u in await ctx.uow.units.children(unit.id) if u.kind == "village"]
    return sum(v.households or 0 for v in villages), sum(v.adults or 0 for v in villages)


def _refused(ctx: Context, refusal: TargetRefusal, counts: Counts, label: str, unit: Unit, service: str,
             year: str, value: str) -> Reply:
    """Why a target is not set, and what to type instead."""
    word = ctx.content.catalogue.word(counts)
    if refusal.reason == "beyond":
        base = ctx.t("chat_targets.base_households" if counts == "households" else "chat_targets.base_adults")
        return ctx.say("chat_targets.refused.beyond", unit=unit.name, limit=thousands(refusal.limit), base=base,
                       service=label, value=thousands(int(value)) if value.isdigit() else value, word=word)
    if refusal.reason == "share_of_sessions":
        return ctx.say("chat_targets.refused.share_of_sessions", service=label, word=word, code=unit.code,
                       service_code=service, year=year)
    if refusal.reason == "adults_for_households":
        return ctx.say("chat_targets.refused.adults_for_households", service=label, word=word)
    return ctx.say("chat_targets.refused.households_for_people", service=label, word=word)


def _service(ctx: Context, text: str) -> str | None:
    folded = fold(text)
    for service in ctx.content.catalogue.services:
        if folded in {fold(a) for a in (*service.aliases, service.code, service.short)}:
            return service.code
    result = parse_report(f"{text} 1", today=ctx.today, catalogue=ctx.content.catalogue,
                          lexicon=ctx.content.lexicon, max_count=ctx.content.limits.max_count_per_report)
    return result.items[0].service if len(result.items) == 1 else None


FEATURE = Feature(
    name="villages",
    texts="texts/villages.yaml",
    commands=(
        Command(("thon", "villages"), villages, STAFF),
        Command(("chitieu", "target"), target, OVERSEERS),
    ),
    # "Xem tiếp" under a page of /thon (bot/flows/paging.py).
    global_actions={"th": on_more(STAFF, listing)},
)
