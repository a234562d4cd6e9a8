"""Tallies by chat: /tuan /thang /quy /nam /ky, the chart /bieudo and the XLSX /xuat.

Scope follows the role (``bot.flows.commands.scope_of``): a member or leader sees their own
village; commune staff see every village of their commune (and may name one of them); province
staff see their province, one line per commune, and may name one of its communes (then one of
its villages); an admin sees the deployment and may name any commune or province by its code.
A commune or province outside the scope is refused by name; any other place outside it is
answered "not found".

Commands: /tuan /thang /quy /nam /ky /bieudo (registered, province staff), /xuat (staff, province staff)
Steps:    none
Tables:   report_months, reports, targets, units (read)
Texts:    content/texts/tally.yaml
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import partial

from bot.domain.catalogue import COUNTS, Counts
from bot.domain.messages import Markup, PendingAttachment, Reply
from bot.domain.periods import Period, PeriodScheme, cutoff_month, from_key, week_of
from bot.domain.tally import CommuneTally, Tally, bar, number, per_commune, period_label
from bot.domain.textutil import fold
from bot.flows import resolve
from bot.flows.commands import OVERSEERS, READERS, Command, may_see
from bot.flows.commands import scope_of as permitted
from bot.flows.context import Context, Refusal
from bot.flows.feature import Feature
from bot.services import cycle
from bot.services.tallies import build_province_tally, build_tally
from storage.models import Unit

MAX_CODE_WORDS = 6  # the words of an argument looked up as a commune's or province's code
COMMAND_KINDS = {"tuan": "week", "thang": "month", "quy": "quarter", "nam": "year", "ky": "cutoff"}
_ONE_OR_TWO = re.compile(r"^(\d{1,2})(?:\s*[/.-]\s*(\d{4}))?$")
_DAY = re.compile(r"^(\d{1,2})/(\d{1,2})(?:/(\d{4}))?$")
_YEAR = re.compile(r"^(\d{4})$")
_CODE_LIKE = re.compile(r"[a-z].*-|-.*[a-z]")


class BadArgument(Exception):
    """The user's argument: ``key`` is the text to answer with, ``value`` what they typed."""

    def __init__(self, key: str, value: str) -> None:
        super().__init__(key)
        self.key, self.value = key, value


@dataclass(frozen=True)
class Request:
    scope: Unit
    period: Period
    commune: Unit | None  # the commune of the scope (for its cut-off day and the export title)


# Periods --------------------------------------------------------------------------------------
def _latest(make, today: date, year: int | None, *args: int) -> Period:  # type: ignore[no-untyped-def]
    """The period made from ``args`` in ``year``, or when no year is given, the latest one
    that has started (``/thang 12`` typed in November means last December)."""
    if year is not None:
        return make(year, *args)
    period = make(today.year, *args)
    return period if period.start <= today else make(today.year - 1, *args)


def parse_period(kind: str, text: str, today: date, scheme: PeriodScheme | int, words) -> Period:  # type: ignore[no-untyped-def]
    """The period of ``kind`` (or ``any``: a key, else a month) that ``text`` names, in the
    commune's ``scheme`` (a bare cut-off day: calendar periods, /ky with that day); BadArgument if none."""
    if isinstance(scheme, int):
        scheme = PeriodScheme(False, scheme)
    cutoff_day = scheme.cutoff_day
    any_kind = kind == "any"
    kind = "month" if any_kind else kind
    current = scheme.period_of(kind, today)
    text = fold(text)
    if not text or text in {fold(w) for w in words.current_words}:
        return current
    if text in {fold(w) for w in words.previous_words}:
        return current.previous()
    try:
        period = from_key(text.upper().replace("K", "k"))
        if period.kind == kind or any_kind or (kind == "month" and period.kind == "cutoff"):
            return period
    except ValueError:
        pass
    match = _ONE_OR_TWO.match(text)
    year_of_arg = int(match.group(2)) if match and match.group(2) else None
    try:
        if kind == "week":
            day = _DAY.match(text)
            if day:
                return week_of(_day_in(today, int(day.group(1)), int(day.group(2)), day.group(3)))
        elif kind in ("month", "cutoff") and match and 1 <= int(match.group(1)) <= 12:
            if kind == "month":
                return _latest(scheme.month, today, year_of_arg, int(match.group(1)))
            return _latest(lambda y, m: cutoff_month(y, m, cutoff_day), today, year_of_arg, int(match.group(1)))
        elif kind == "quarter" and match and 1 <= int(match.group(1)) <= 4:
            return _latest(scheme.quarter, today, year_of_arg, int(match.group(1)))
        elif kind == "year" and _YEAR.match(text):
            return scheme.named("year", date(int(text), 1, 1))
    except ValueError:
        pass
    raise BadArgument("tally.bad_period", text)


def _day_in(today: date, day: int, month_number: int, year: str | None) -> date:
    if year:
        return date(int(year), month_number, day)
    candidate = date(today.year, month_number, day)
    return candidate if candidate <= today else date(today.year - 1, month_number, day)


# Scope ------------------------------------------------------------------------------------------
async def _resolve(ctx: Context, kind: str, args: str, command: str) -> Request:
    """The place and the period the arguments name: a place (by code or name, at the start or
    the end) in the caller's scope, and the period in what is left."""
    assert ctx.member is not None
    settings = ctx.content.tally
    home = (await permitted(ctx)).unit
    if home is None:
        raise BadArgument("tally.no_scope", "")
    scope = await resolve.scope_of(ctx)

    def example(place: str) -> str:
        return ctx.t("tally.place_example", command=command, place=place)

    words = args.split()
    place: Unit | None = None
    ambiguous: Refusal | None = None
    named = await _named_unit(ctx, words)  # a commune or province by its code, wherever it is
    if named is not None:
        place, words = named
        if place.kind == "commune" and words and not _is_period(ctx, kind, " ".join(words)):
            villages = [u for u in await ctx.uow.units.children(place.id) if u.kind == "village"]
            for from_end in (False, True):  # then one of its villages, by code or name
                found, rest = resolve.take(ctx, villages, words, example, from_end=from_end)
                if found is not None and (not rest or _is_period(ctx, kind, " ".join(rest))):
                    place, words = found, rest
                    break
    elif words and not _is_period(ctx, kind, " ".join(words)):
        # The place at the start or the end, by code or whole name first, then by a start of its
        # name; the first reading whose other words are a period (or nothing) wins.
        for loose, from_end in ((False, False), (False, True), (True, False), (True, True)):
            try:
                found, rest = resolve.take(ctx, scope.units, words, example, from_end=from_end, loose=loose)
            except Refusal as refused:
                ambiguous = ambiguous or refused
                continue
            if found is not None and (not rest or _is_period(ctx, kind, " ".join(rest))):
                place, words = found, rest
                break
        if place is None and ambiguous is not None:
            raise ambiguous
    target = place or home
    commune = target if target.kind == "commune" else None
    if target.kind == "village":
        commune = await ctx.uow.units.get(target.parent_id or 0)
    scheme = ctx.content.periods(commune.code if commune else None)
    kind, text = kind_and_text(ctx, kind, fold(" ".join(words)))
    try:
        period = parse_period(kind, text, ctx.today, scheme, settings)
    except BadArgument:
        typed = " ".join(words)
        if place is None and ctx.member.role in ("member", "leader") and words and (
                _names_a_place(ctx, typed) or not any(ch.isdigit() for ch in typed)):
            raise BadArgument("tally.not_in_scope", typed) from None  # a member sees their own village
        if place is None and words and _names_a_place(ctx, typed):
            raise resolve.refusal(ctx, resolve.index(ctx, scope.units).match(" ".join(words)), " ".join(words),
                                  scope.units, example) from None
        raise BadArgument("tally.bad_period", " ".join(words)) from None
    if period.start > ctx.today:
        raise BadArgument("tally.future", period_label(ctx.t, period))
    return Request(target, period, commune)


async def _named_unit(ctx: Context, words: list[str]) -> tuple[Unit, list[str]] | None:
    """A commune or province named by its code (``/thang XA-MY-HIEP``), and the other words;
    BadArgument when the caller may not look there (another commune, another province)."""
    for position, word in enumerate(words[:MAX_CODE_WORDS]):
        if not any(c.isalpha() for c in word):
            continue
        for kind in ("commune", "province"):
            unit = await ctx.uow.units.by_code(kind, word.upper())
            if unit is None:
                continue
            if not await may_see(ctx, unit):
                raise BadArgument("tally.outside_scope", word)
            return unit, words[:position] + words[position + 1:]
    return None


def kind_and_text(ctx: Context, kind: str, folded: str) -> tuple[str, str]:
    """For /bieudo and /xuat (``any``): the kind named first ("quy 3"), and the rest."""
    if kind != "any":
        return kind, folded
    head, _, rest = folded.partition(" ")
    kinds = {fold(word): value for word, value in ctx.content.tally.kind_words.items()}
    return (kinds[head], rest) if head in kinds else (kind, folded)


def _is_period(ctx: Context, kind: str, text: str) -> bool:
    settings = ctx.content.tally
    try:
        parse_period(*kind_and_text(ctx, kind, fold(text)), ctx.today, settings.default_cutoff_day, settings)
    except BadArgument:
        return False
    return True


def _names_a_place(ctx: Context, text: str) -> bool:
    """Does an argument that is not a period look like the name or code of a place?"""
    folded = fold(text)
    return bool(_CODE_LIKE.search(folded)) or any(folded == fold(w) or folded.startswith(fold(w) + " ")
                                                  for w in ctx.content.vocabulary.place_prefixes)


async def _refusal(ctx: Context, command: str, error: BadArgument) -> Reply:
    assert ctx.member is not None
    scope = await resolve.scope_of(ctx)
    if error.key == "tally.bad_period":
        places = ctx.t("tally.or_place", example=ctx.t(
            "tally.place_example", command=command, place=resolve.sample(ctx, scope.villages))) \
            if len(scope.villages) > 1 else ""
        return ctx.say("tally.bad_period", value=error.value, examples=ctx.t(f"tally.examples.{command}"),
                       places=places)
    if error.key == "tally.future":
        return ctx.say("tally.future", period=error.value)
    home = await ctx.uow.units.get(ctx.member.unit_id)
    if error.key == "tally.outside_scope":
        return ctx.say("tally.outside_scope", value=error.value, unit=home.name if home else "")
    if error.key == "tally.no_scope":
        return ctx.say("tally.no_scope")
    return ctx.say("tally.not_in_scope", value=error.value, unit=home.name if home else "",
                   examples=ctx.t(f"tally.examples.{command}"))


async def _request(ctx: Context, kind: str, args: str, command: str) -> Request | Reply:
    try:
        return await _resolve(ctx, kind, args, command)
    except BadArgument as error:
        return await _refusal(ctx, command, error)


async def tally_for(ctx: Context, request: Request) -> Tally:
    """The tally the answer, the chart and the file start from: a province's one line per
    commune (the file reads its villages itself, ``bot/services/export_rows.py``)."""
    build = build_province_tally if request.scope.kind == "province" else build_tally
    return await build(ctx.uow, request.scope, request.period, ctx.content.catalogue.codes, ctx.now,
                       catalogue=ctx.content.catalogue)


async def _status(ctx: Context, request: Request) -> list[Markup] | None:
    """For staff, a commune's villages by confirmation state and its team figures (periods
    that have deadlines only: not weeks)."""
    if request.scope.kind != "commune" or request.period.kind == "week" or ctx.member is None \
            or ctx.member.role not in OVERSEERS:
        return None
    statuses = await cycle.village_status(ctx.uow, request.scope, request.period)
    team = await cycle.team_figures(ctx.uow, request.scope, request.period, statuses)
    closed = await ctx.uow.cycle.lock(request.scope.id, request.period.key) is not None
    return cycle.status_lines(ctx.content, statuses, team, closed)


# The chat answer ----------------------------------------------------------------------------------
def _change(ctx: Context, current: int, previous: int) -> str:
    diff = current - previous
    if diff > 0:
        return ctx.t("tally.change_up", value=number(diff))
    if diff < 0:
        return ctx.t("tally.change_down", value=number(-diff))
    return ctx.t("tally.change_same")


def per_kind(ctx: Context, current: dict[Counts, int], previous: dict[Counts, int] | None, key: str) -> Markup:
    """One figure per kind of count ("54 người (+3) · 20 hộ (=)"), never one sum of unlike
    things: each is the text ``{key}_part``, joined by ``{key}_separator``. Kinds at 0 in both
    periods are left out (when nothing is left, the first kind shows its 0)."""
    catalogue = ctx.content.catalogue
    before = previous or {}
    kinds = [k for k in COUNTS if current.get(k) or before.get(k)] or [next(iter(current), "households")]
    parts = [str(ctx.t(f"{key}_part", count=number(current.get(kind, 0)), unit=catalogue.word(kind),
                       change=_change(ctx, current.get(kind, 0), before.get(kind, 0))))
             for kind in kinds]
    return Markup(str(ctx.t(f"{key}_separator")).join(parts))


def render(ctx: Context, tally: Tally, communes: list[Unit] | None = None,
           status: list[Markup] | None = None) -> list[Reply]:
    """The chat answer; a province's comes with one line per commune of ``communes``.
    ``status``: the villages' confirmation lines staff read instead of "who has not
    reported" (a village is reported when it has confirmed)."""
    catalogue = ctx.content.catalogue
    label = period_label(ctx.t, tally.period)
    lines = [
        ctx.t("tally.header", unit=tally.scope.name, period=label),
        ctx.t("tally.total", totals=per_kind(ctx, tally.totals(), tally.previous_totals(), "tally.total")),
    ]
    for code in tally.services:
        service = catalogue.get(code)
        assert service is not None
        count, before = tally.service_total(code), tally.service_previous(code)
        if not count and not before:
            continue  # a short answer: services with nothing in either period are left out
        lines.append(ctx.t("tally.service_line", label=service.short, count=number(count),
                           unit=catalogue.word(tally.unit_of(code)), change=_change(ctx, count, before)))
    coverage = [c for c in (tally.coverage(code) for code in tally.services) if c is not None]
    if coverage:
        lines.append("")
        lines.append(ctx.t("tally.coverage_title", year=tally.period.end.year))
        for item in coverage:
            service = catalogue.get(item.service)
            assert service is not None
            lines.append(ctx.t("tally.coverage_line", label=service.short, helped=number(item.helped),
                               target=number(item.target), unit=catalogue.word(item.counts), bar=bar(item.ratio),
                               percent=item.percent_of_target))
    lines.append("")
    if tally.scope.kind == "province":
        lines.append(ctx.t("tally.province_reported", reported=tally.reported_count, count=tally.village_count))
    elif tally.scope.kind == "village":
        village = tally.villages[0]
        if not village.reported:
            lines.append(ctx.t("tally.village_missing_self", village=village.unit.name))
        elif village.total == 0:
            lines.append(ctx.t("tally.village_zero_self", village=village.unit.name))
    elif status is not None:
        lines.extend(status)
    else:
        missing = tally.missing
        if missing:
            lines.append(ctx.t("tally.missing", count=len(missing), names=", ".join(u.name for u in missing)))
        else:
            lines.append(ctx.t("tally.all_reported", count=len(tally.villages)))
        zero = [v.unit.name for v in tally.villages if v.reported and v.total == 0]
        if zero:
            lines.append(ctx.t("tally.reported_zero", names=", ".join(zero)))
    replies = [ctx.reply(Markup.lines([Markup(x) for x in lines]).rstrip(), menu=True)]
    if tally.scope.kind == "province":
        replies.extend(_commune_pages(ctx, tally, label, communes or []))
    elif tally.scope.kind != "village":
        replies.extend(_village_pages(ctx, tally, label))
    return replies


def _commune_pages(ctx: Context, tally: Tally, label: str, communes: list[Unit]) -> list[Reply]:
    """A province: one line per commune (households, change, villages reported), then the province total."""
    blocks = [ctx.t("tally.commune_line", name=c.unit.name, reported=c.reported_villages, count=c.village_count,
                    totals=per_kind(ctx, c.totals(tally.units), c.previous_totals(tally.units), "tally.village"))
              for c in per_commune(tally, communes).villages if isinstance(c, CommuneTally)]
    blocks.append(ctx.t("tally.province_line", name=tally.scope.name,
                        totals=per_kind(ctx, tally.totals(), tally.previous_totals(), "tally.village")))
    pages = _pages(ctx, blocks)
    return [ctx.reply(Markup.lines([ctx.t("tally.communes_title", period=label, part=i, parts=len(pages)),
                                    *[Markup(b) for b in page]]))
            for i, page in enumerate(pages, start=1)]


def _pages(ctx: Context, blocks: list[str]) -> list[list[str]]:
    """Blocks of text in pages that fit a message."""
    limit = ctx.content.tally.max_message_chars - 200
    pages: list[list[str]] = [[]]
    size = 0
    for block in blocks:
        if pages[-1] and size + len(block) + 1 > limit:
            pages.append([])
            size = 0
        pages[-1].append(block)
        size += len(block) + 1
    return pages


def _village_pages(ctx: Context, tally: Tally, label: str) -> list[Reply]:
    catalogue = ctx.content.catalogue
    blocks = []
    for village in tally.villages:
        name = village.unit.name
        if not village.reported:
            blocks.append(ctx.t("tally.village_missing", name=name))
        elif village.total == 0:
            blocks.append(ctx.t("tally.village_zero", name=name))
        else:
            head = ctx.t("tally.village_line", name=name, totals=per_kind(
                ctx, village.totals(tally.units), village.previous_totals(tally.units), "tally.village"))
            parts = [
                ctx.t("tally.village_service", label=catalogue.get(code).short,  # type: ignore[union-attr]
                      count=number(village.current[code]), unit=catalogue.word(tally.unit_of(code)))
                for code in tally.services if village.current.get(code)
            ]
            blocks.append(Markup.lines([head, ctx.t("tally.village_services", services=Markup(", ".join(parts)))]))
    pages = _pages(ctx, blocks)
    return [
        ctx.reply(Markup.lines([ctx.t("tally.villages_title", period=label, part=i, parts=len(pages)),
                                *[Markup(b) for b in page]]))
        for i, page in enumerate(pages, start=1)
    ]


async def _communes(ctx: Context, province: Unit) -> list[Unit]:
    return [u for u in await ctx.uow.units.children(province.id) if u.kind == "commune"]


def _tally_command(kind: str):  # type: ignore[no-untyped-def]
    async def handler(ctx: Context, args: str = "") -> list[Reply]:
        for command, of in COMMAND_KINDS.items():  # noqa: B007 (the command's own name, for its examples)
            if of == kind:
                break
        request = await _request(ctx, kind, args, command)
        if isinstance(request, Reply):
            return [request]
        communes = await _communes(ctx, request.scope) if request.scope.kind == "province" else None
        tally = await tally_for(ctx, request)
        return render(ctx, tally, communes, await _status(ctx, request))

    return handler


# Files: chart and export ---------------------------------------------------------------------------
async def chart(ctx: Context, args: str = "") -> list[Reply]:
    from bot.services.chart import render_chart

    request = await _request(ctx, "any", args, "bieudo")
    if isinstance(request, Reply):
        return [request]
    tally = await tally_for(ctx, request)
    label = period_label(ctx.t, tally.period)
    if not any(v.reported for v in tally.villages):  # a "không có" is drawn: it is not the same as silence
        return [ctx.say("chart.empty", period=label)]
    days = []
    drawn = tally
    if tally.scope.kind == "village":
        days = await ctx.uow.tallies.daily("village", tally.scope.id, tally.period.start, tally.period.end)
    elif tally.scope.kind == "province":  # one bar per commune
        drawn = per_commune(tally, await _communes(ctx, tally.scope))
    png = partial(render_chart, drawn, days, ctx.content)
    totals = per_kind(ctx, tally.totals(), tally.previous_totals(), "chart.caption")
    caption = ctx.t("chart.caption", unit=tally.scope.name, period=label, totals=totals)
    filename = f"bieudo_{tally.scope.code}_{tally.period.key}.png"
    return [Reply(caption, attachment=PendingAttachment("photo", png, filename, "image/png"))]


def _file_kind(ctx: Context, args: str) -> tuple[str, str]:
    """The file's kind named among the words (``/xuat quy 3 word``) and the words left."""
    formats = {fold(word): kind for word, kind in ctx.content.tally.format_words.items()}
    words = args.split()
    for index, word in enumerate(words):
        if fold(word) in formats:
            return formats[fold(word)], " ".join(words[:index] + words[index + 1:])
    return "xlsx", args



async def export(ctx: Context, args: str = "") -> list[Reply]:
    from bot.services.export import MIME, export_filename, gather, to_file

    kind, args = _file_kind(ctx, args)
    request = await _request(ctx, "any", args, "xuat")
    if isinstance(request, Reply):
        return [request]
    tally = await tally_for(ctx, request)
    data = await gather(ctx.uow, tally)
    body = partial(to_file, data, ctx.content, ctx.tz, kind)
    caption = ctx.t("export.caption", unit=tally.scope.name, period=period_label(ctx.t, tally.period))
    return [Reply(caption, attachment=PendingAttachment("document", body, export_filename(tally, kind), MIME[kind]))]


FEATURE = Feature(
    name="tally",
    texts="texts/tally.yaml",
    commands=(
        Command(("tuan", "week"), _tally_command("week"), READERS),
        Command(("thang", "month"), _tally_command("month"), READERS),
        Command(("quy", "quarter"), _tally_command("quarter"), READERS),
        Command(("nam", "year"), _tally_command("year"), READERS),
        Command(("ky", "cutoff"), _tally_command("cutoff"), READERS),
        Command(("bieudo", "chart"), chart, READERS),
        Command(("xuat", "export"), export, OVERSEERS),
    ),
)
