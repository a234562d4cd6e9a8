"""Commune staff run their teams from the chat: invites, members, roles, the audit trail.

Every command works inside the caller's scope (``bot.flows.commands.scope_of``): a commune's
staff see and change only their commune's villages and members; an admin, deployment-wide,
may act on any member or invite by its number or code, and lists the communes of their own
unit. A number or code outside the scope is answered exactly like one that does not exist.

Commands: /moi /maimoi /thuhoi /thanhvien /vaitro /khoa /mokhoa /nhatky (staff);
          /themtv and /thanhvien also for a leader, in their own village
Steps:    none (one message each); pages of /thanhvien and /maimoi by global action
Tables:   units, members, identities, invites, audit, outbox (a member told of a change)
Texts:    content/texts/admin.yaml
"""

from __future__ import annotations

from datetime import date, timedelta

from bot.domain.cleantext import clean_line
from bot.domain.messages import Markup, Reply
from bot.domain.periods import from_key
from bot.domain.tally import period_label
from bot.domain.textutil import fold
from bot.flows import resolve
from bot.flows.commands import PROVINCE_STAFF, SCOPE_OF_ROLE, STAFF, Command, lineage, may_see
from bot.flows.context import Context
from bot.flows.feature import Feature
from bot.flows.free_text import refuse_personal_data
from bot.flows.paging import PAGE_LINES, fit, more_action, on_more, page
from bot.flows.report import day_text
from bot.flows.resolve import Example, commune_ids, scope_of, villages_in_scope
from bot.services.invites import create_invite
from bot.services.reminders import payload
from storage.models import AuditEntry, Member, NewMessage, Unit

TEAM_KEEPERS = STAFF | {"leader"}  # /themtv and /thanhvien: a leader in their own village
INVITE_DAYS = 7
INVITE_USES = {"member": 5, "leader": 1, "staff": 1, PROVINCE_STAFF: 1}
MAX_LIST = 30
MAX_NAME = 64  # as a name taken from a chat profile (bot/flows/join.py)
_QUOTES = "\"'“”‘’«»"


async def member_in_scope(ctx: Context, text: str, example: Example) -> tuple[Member, Unit]:
    """A member of the caller's communes (by number or name) and their unit; Refusal if none.
    By number, any member the caller may act on (an admin: anywhere)."""
    number = text.strip().lstrip("#")
    if number.isdigit():
        member = await ctx.uow.members.get(int(number))
        unit = await ctx.uow.units.get(member.unit_id) if member and member.status != "forgotten" else None
        if member is not None and unit is not None and await may_see(ctx, unit):
            return member, unit
    scope = await scope_of(ctx)
    member = await resolve.find_member(ctx, scope.units, text, example)
    unit = next(u for u in scope.units if u.id == member.unit_id)
    return member, unit


def _commune_of(unit: Unit) -> int:
    return unit.id if unit.kind == "commune" else unit.parent_id or unit.id


async def tell_member(ctx: Context, commune_id: int, member_id: int, key: tuple[str, str, str], reply: Reply) -> None:
    """Push ``reply`` to every reachable chat of a member, through the outbox.

    ``key`` is (rule, period, step): the outbox sends one message per key and recipient."""
    rule, period, step = key
    await ctx.uow.outbox.enqueue(
        [NewMessage(rule, period, step, p.member_id, p.channel, p.chat_id, payload(reply), ctx.now)
         for p in await ctx.uow.reminders.people_of_member(commune_id, member_id)], ctx.now)


# /moi -------------------------------------------------------------------------
async def invite(ctx: Context, args: str) -> list[Reply]:
    assert ctx.member is not None
    named, words = resolve.take_role(ctx, args.split())  # "tổ trưởng", "totruong" (content/vocabulary.yaml)
    role = named or "member"
    communes = await commune_ids(ctx)
    villages = await villages_in_scope(ctx)
    usage = ctx.say("admin.invite_usage", example=ctx.t("admin.examples.moi", place=resolve.sample(ctx, villages)))
    if role == PROVINCE_STAFF:
        unit = await _province_named(ctx, words)
        if unit is None:
            return [ctx.say("admin.invite_province_usage")]
    elif role == "staff":
        if len(communes) != 1:
            return [usage]
        unit = await ctx.uow.units.get(communes[0])
    elif not words:
        return [usage, ctx.say("admin.villages", names=resolve.names_of(villages, MAX_LIST))]
    else:
        unit = resolve.find(ctx, villages, " ".join(words), lambda place: ctx.t("admin.examples.moi", place=place))
    assert unit is not None
    created = await create_invite(ctx.uow, unit.id, role, ctx.now, timedelta(days=INVITE_DAYS), INVITE_USES[role],
                                  created_by=ctx.member.id)
    await ctx.uow.audit.add(ctx.member.id, "invite", f"unit:{unit.id}", ctx.now,
                            {"role": role, "code": created.code}, unit_id=_commune_of(unit))
    link = f"{ctx.inbound.invite_link}{created.code}" if ctx.inbound.invite_link else f"/start {created.code}"
    expires = day_text(created.expires_at.astimezone(ctx.tz).date())
    # A deep link opens one channel only; the code typed after /start works on every channel.
    other_way = ctx.t("admin.invite_other_way", code=created.code) if ctx.inbound.invite_link else ""
    return [ctx.say("admin.invite_created", unit=unit.name, role=ctx.t(f"roles.{role}"), code=created.code,
                    link=link, expires=expires, uses=created.max_uses, other_way=other_way)]


async def _province_named(ctx: Context, words: list[str]) -> Unit | None:
    """The province of /moi [MÃ-TỈNH] cantinh: the one named by its code, else the caller's own."""
    if len(words) > 1:
        return None
    if words:
        province = await ctx.uow.units.by_code("province", words[0].upper())
    else:
        assert ctx.member is not None
        province = next((u for u in await lineage(ctx.uow, ctx.member.unit_id) if u.kind == "province"), None)
    return province if province is not None and await may_see(ctx, province) else None


async def invites(ctx: Context, args: str) -> list[Reply]:
    return await invites_page(ctx, 0, 1, None)


async def invites_page(ctx: Context, _filter: int, number: int, after: str | None) -> list[Reply]:
    """One page of the usable invites of the caller's scope, oldest first, after code ``after``."""
    units = {u.id: u for u in await villages_in_scope(ctx)}
    for commune_id in await commune_ids(ctx):
        commune = await ctx.uow.units.get(commune_id)
        if commune:
            units[commune.id] = commune
    items = await ctx.uow.invites.usable_page(list(units), ctx.now, after, PAGE_LINES + 1)
    if not items:
        return [ctx.say("admin.no_invites" if after is None else "paging.end")]
    lines = [ctx.t("admin.invite_line", code=item.code, unit=units[item.unit_id].name,
                   role=ctx.t(f"roles.{item.role}"), left=item.max_uses - item.uses,
                   expires=day_text(item.expires_at.astimezone(ctx.tz).date())) for item in items]
    shown = fit(lines)
    more = more_action("mm", 0, number + 1, items[shown - 1].code) if shown < len(items) else None
    header = ctx.t("admin.invites_header") if number == 1 else ctx.t("paging.invites_next", page=number)
    return [page(ctx, header, lines[:shown], more)]


async def revoke(ctx: Context, args: str) -> list[Reply]:
    assert ctx.member is not None
    code = args.strip().upper()
    item = await ctx.uow.invites.get(code) if code else None
    if item is None or not await may_see(ctx, item.unit_id):
        return [ctx.say("admin.no_such_invite")]
    if not await ctx.uow.invites.revoke(code, ctx.now):
        return [ctx.say("admin.invite_already_revoked", code=code)]
    unit = await ctx.uow.units.get(item.unit_id)
    assert unit is not None
    await ctx.uow.audit.add(ctx.member.id, "invite_revoke", f"invite:{code}", ctx.now, unit_id=_commune_of(unit))
    return [ctx.say("admin.invite_revoked", code=code)]


# Members ----------------------------------------------------------------------
async def _own_village(ctx: Context) -> Unit | None:
    """A leader's village (None if their unit is not a village)."""
    assert ctx.member is not None
    unit = await ctx.uow.units.get(ctx.member.unit_id)
    return unit if unit is not None and unit.kind == "village" else None


async def members(ctx: Context, args: str) -> list[Reply]:
    assert ctx.member is not None
    village_id = 0
    if ctx.member.role == "leader":  # a leader's roster is their village, whatever is typed
        own = await _own_village(ctx)
        if own is None:
            return [ctx.say("admin.no_such_village")]
        if args.strip() and resolve.index(ctx, [own]).match(args).found is None:
            return [ctx.say("admin.members_leader_own", village=own.name, value=args.strip())]
        village_id = own.id
    elif args.strip():
        village_id = resolve.find(ctx, await villages_in_scope(ctx), args,
                                  lambda place: ctx.t("admin.examples.thanhvien", place=place)).id
    return await members_page(ctx, village_id, 1, None)


async def _roster_units(ctx: Context, village_id: int) -> list[Unit] | None:
    """The units a roster lists, in its order: one village, or each commune and its villages by code."""
    assert ctx.member is not None
    if ctx.member.role == "leader":
        own = await _own_village(ctx)
        return [own] if own is not None and village_id == own.id else None
    villages = await villages_in_scope(ctx)
    if village_id:
        return [v for v in villages if v.id == village_id] or None
    units: list[Unit] = []
    for commune_id in await commune_ids(ctx):
        commune = await ctx.uow.units.get(commune_id)
        assert commune is not None
        units += sorted([commune, *(v for v in villages if v.parent_id == commune_id)], key=lambda u: (u.code, u.id))
    return units


async def members_page(ctx: Context, village_id: int, number: int, after: int | None) -> list[Reply]:
    """One page of the roster (all the scope, or one village), from just after member ``after``."""
    units = await _roster_units(ctx, village_id)
    if units is None:  # a leader paging a roster wider than their village: not theirs to read
        leader = ctx.member is not None and ctx.member.role == "leader"
        return [ctx.say("errors.not_allowed" if leader else "admin.no_such_village")]
    names = {u.id: u.name for u in units}
    rows = await ctx.uow.members.page(list(names), after, PAGE_LINES + 1)
    if not rows:
        return [ctx.say("admin.no_members" if after is None else "paging.end")]
    lines = []
    for member_id, name, role, unit_id, status, channels, last in rows:
        key = "admin.member_line_disabled" if status == "disabled" else "admin.member_line"
        lines.append(ctx.t(key, id=member_id, name=name or "—", role=ctx.t(f"roles.{role}"), unit=names[unit_id],
                           channels=_channel_names(ctx, channels),
                           last=day_text_iso(last) if last else ctx.t("admin.never")))
    shown = fit(lines)
    more = more_action("tv", village_id, number + 1, rows[shown - 1][0]) if shown < len(rows) else None
    header = ctx.t("paging.members") if number == 1 else ctx.t("paging.members_next", page=number)
    return [page(ctx, header, lines[:shown], more)]


async def add_member(ctx: Context, args: str) -> list[Reply]:
    """/themtv THÔN TÊN: a member without a phone (no chat identity), for /baothay."""
    assert ctx.member is not None
    leader = ctx.member.role == "leader"
    own = await _own_village(ctx) if leader else None
    if leader and own is None:
        return [ctx.say("admin.no_such_village")]
    # A leader's commune is searched too, so another village of it gets its own answer.
    villages = [v for v in await ctx.uow.units.children(own.parent_id or 0) if v.kind == "village"] \
        if own is not None else await villages_in_scope(ctx)
    def example(place: str) -> str:
        return ctx.t("admin.examples.themtv", place=place)
    usage_place = resolve.short_name(ctx, own) if own is not None else resolve.sample(ctx, villages)
    words = args.split()
    if not words:
        return [ctx.say("admin.add_member_usage", example=example(usage_place))]
    village, rest = resolve.take(ctx, villages, words, example, loose=False)
    if village is None:
        return [ctx.say("admin.add_member_no_village", value=args.strip(),
                        names=resolve.names_of([own] if own is not None else villages, MAX_LIST),
                        example=example(usage_place))]
    if own is not None and village.id != own.id:
        return [ctx.say("admin.add_member_own", village=own.name, example=example(usage_place))]
    name = " ".join(clean_line(" ".join(rest), None).strip(_QUOTES).split())
    if not name:
        return [ctx.say("admin.add_member_no_name", example=example(resolve.short_name(ctx, village)))]
    refused = refuse_personal_data(ctx, name)  # a resident's ID or phone number typed as a name
    if refused is not None:
        return [refused]
    if len(name) > MAX_NAME:
        return [ctx.say("admin.add_member_too_long", max=MAX_NAME)]
    if not any(ch.isalpha() for ch in name):
        return [ctx.say("admin.add_member_bad_name", example=example(resolve.short_name(ctx, village)))]
    same = next((m for m in await ctx.uow.members.in_unit(village.id)
                 if m.status != "forgotten" and fold(m.name or "") == fold(name)), None)
    if same is not None:
        return [ctx.say("admin.add_member_exists", id=same.id, name=same.name, village=village.name)]
    member = await ctx.uow.members.add(name, "member", village.id, ctx.now)
    # The audit keeps no name: /nhatky reads it from the member, and `tcns member forget` erases it there.
    await ctx.uow.audit.add(ctx.member.id, "member_add", f"member:{member.id}", ctx.now, {"unit": village.id},
                            unit_id=_commune_of(village))
    return [ctx.say("admin.member_added", id=member.id, name=name, village=village.name)]


CHANNELS = ("telegram", "zalo", "terminal")


def _channel_names(ctx: Context, channels: str | None) -> str:
    """"telegram terminal" -> "Telegram, trò chuyện thử": how a member can be reached, in words."""
    names = [str(ctx.t(f"admin.channel_names.{c}")) for c in dict.fromkeys((channels or "").split()) if c in CHANNELS]
    return ", ".join(names) or str(ctx.t("admin.no_channel"))


def day_text_iso(iso_day: str) -> str:
    return f"{iso_day[8:10]}/{iso_day[5:7]}/{iso_day[:4]}"


async def set_role(ctx: Context, args: str) -> list[Reply]:
    assert ctx.member is not None
    words = args.split()
    role = resolve.role_of_words(ctx, words[1:]) if len(words) >= 2 else None
    if role is None:
        shown = words[0].lstrip("#") if words and words[0].lstrip("#").isdigit() else \
            await resolve.some_member(ctx, (await scope_of(ctx)).units)
        return [ctx.say("admin.role_usage", example=ctx.t("admin.examples.vaitro", member=shown),
                        roles=resolve.role_names(ctx))]
    target, unit = await member_in_scope(ctx, words[0],
                                         lambda member: ctx.t("admin.examples.vaitro", member=member))
    if target.id == ctx.member.id or target.role == "admin":
        return [ctx.say("admin.cannot_change")]
    if SCOPE_OF_ROLE[role] != unit.kind:  # a village's team, a commune's or a province's staff
        return [ctx.say("admin.role_needs_unit")]
    await ctx.uow.members.set_role(target.id, role)
    await ctx.uow.audit.add(ctx.member.id, "role", f"member:{target.id}", ctx.now,
                            {"from": target.role, "to": role}, unit_id=_commune_of(unit))
    # The member is told, and their chat's command menu follows the new role.
    told = Reply(ctx.t("admin.role_told", unit=unit.name, role=ctx.t(f"roles.{role}")), commands_for=role)
    change = f"{ctx.inbound.channel}:{ctx.inbound.update_key}"  # one notice per change, even within a second
    await tell_member(ctx, _commune_of(unit), target.id, ("role", change, role), told)
    return [ctx.say("admin.role_changed", id=target.id, name=target.name or "—", role=ctx.t(f"roles.{role}"))]


async def _set_status(ctx: Context, args: str, status: str) -> list[Reply]:
    assert ctx.member is not None
    command = "khoa" if status == "disabled" else "mokhoa"
    target, unit = await member_in_scope(ctx, args, lambda member: f"/{command} {member}")
    if target.id == ctx.member.id or target.role == "admin":
        return [ctx.say("admin.cannot_change")]
    if target.status == status:
        return [ctx.say(f"admin.already_{status}", id=target.id)]
    await ctx.uow.members.set_status(target.id, status)
    await ctx.uow.audit.add(ctx.member.id, "disable" if status == "disabled" else "enable", f"member:{target.id}",
                            ctx.now, unit_id=_commune_of(unit))
    return [ctx.say(f"admin.now_{status}", id=target.id, name=target.name or "—")]


async def disable(ctx: Context, args: str) -> list[Reply]:
    return await _set_status(ctx, args, "disabled")


async def enable(ctx: Context, args: str) -> list[Reply]:
    return await _set_status(ctx, args, "active")


# Audit ------------------------------------------------------------------------
# /nhatky reads like a log a person wrote: each action in words, with the names, villages,
# services, values and report numbers it touched (read now: a forgotten member shows by number).
async def audit(ctx: Context, args: str) -> list[Reply]:
    count = int(args) if args.strip().isdigit() else 10
    count = max(1, min(count, 50))
    communes = await commune_ids(ctx)
    entries = await ctx.uow.audit.latest(count, communes)
    if not entries:
        return [ctx.say("admin.audit_empty")]
    lines = [ctx.t("admin.audit_line", at=entry.at.astimezone(ctx.tz).strftime("%d/%m %H:%M"),
                   who=_actor_text(ctx, entry), what=await log_text(ctx, entry))
             for entry in entries]
    return [ctx.reply(Markup.lines([ctx.t("admin.audit_header", n=len(lines)), *lines]))]


def _actor_text(ctx: Context, entry: AuditEntry) -> str:
    """Who did it: their name; a forgotten member by number; the server (a command, the scheduler)."""
    if entry.actor_name:
        return entry.actor_name
    if entry.actor_id is not None:
        return str(ctx.t("admin.log.member_number", id=entry.actor_id))
    return str(ctx.t("admin.system"))


def _object_id(entry: AuditEntry) -> int:
    """The number in an audit object such as ``member:7`` (0 if none)."""
    tail = entry.object.rpartition(":")[2]
    return int(tail) if tail.isdigit() else 0


async def _unit_text(ctx: Context, unit_id: object) -> str:
    unit = await ctx.uow.units.get(int(unit_id)) if str(unit_id).isdigit() else None
    return unit.name if unit is not None else str(ctx.t("admin.log.some_unit"))


async def _member_text(ctx: Context, member_id: int) -> str:
    """"#7 Lan (Ấp Mỹ Thạnh)"; a forgotten member by number only."""
    member = await ctx.uow.members.get(member_id)
    if member is None or not member.name:
        return str(ctx.t("admin.log.member_number", id=member_id))
    return str(ctx.t("admin.log.member", id=member_id, name=member.name,
                     unit=await _unit_text(ctx, member.unit_id)))


def _service_text(ctx: Context, code: object) -> str:
    service = ctx.content.catalogue.get(str(code))
    return service.short if service is not None else str(ctx.t("admin.log.no_service"))


def _count_text(ctx: Context, service: str, count: int) -> str:
    if ctx.content.catalogue.get(service) is None:  # the explicit zero report
        return str(ctx.t("zero.label"))
    return str(ctx.t("admin.log.count", service=_service_text(ctx, service), count=count,
                     unit=ctx.unit_word(service)))


async def _report_text(ctx: Context, report_id: int) -> str:
    """"số 56: Ấp Mỹ Thạnh, VNeID 3 người, ngày 20/11/2026"."""
    report = await ctx.uow.reports.get(report_id)
    if report is None:
        return str(ctx.t("admin.log.report_number", id=report_id))
    return str(ctx.t("admin.log.report", id=report_id, unit=await _unit_text(ctx, report.village_id),
                     what=_count_text(ctx, report.service, report.count), day=day_text(report.occurred_on)))


def _period_text(ctx: Context, key: object) -> str:
    """A period key (``2026-11``, ``2026-Q4``) as its name and dates; a campaign's by its day."""
    text = str(key or "")
    try:
        return str(period_label(ctx.t, from_key(text)))
    except ValueError:
        pass
    try:
        return str(ctx.t("admin.log.campaign_period", due=day_text(date.fromisoformat(text))))
    except ValueError:
        return str(ctx.t("admin.log.some_period"))


def _day_text(ctx: Context, iso: object) -> str:
    try:
        return day_text(date.fromisoformat(str(iso)))
    except ValueError:
        return "—"


def _figures_text(ctx: Context, figures: object) -> str:
    items = figures.items() if isinstance(figures, dict) else []
    shown = [_count_text(ctx, str(code), int(count)) for code, count in items if count]
    return ", ".join(shown) or str(ctx.t("admin.log.no_figures"))


def _role_text(ctx: Context, role: object) -> str:
    names = {r: ctx.t(f"roles.{r}") for r in ("member", "leader", "staff", "province_staff", "admin")}
    return str(names.get(str(role)) or ctx.t("admin.log.some_role"))


async def _proxy_items(ctx: Context, entry: AuditEntry) -> str:
    """The reports a /baothay entered (by number), or how many items it had (older entries)."""
    detail = entry.detail
    batch = await ctx.uow.reports.batch(str(detail["batch"]), _object_id(entry)) if detail.get("batch") else []
    if batch:
        return "; ".join(str(ctx.t("admin.log.proxy_item", id=r.id, what=_count_text(ctx, r.service, r.count),
                                   day=day_text(r.occurred_on))) for r in batch)
    return str(ctx.t("admin.log.items", n=detail.get("items", 0)))


async def log_text(ctx: Context, entry: AuditEntry) -> str:
    """What one audit entry says, in words (never its internal object code)."""
    action, detail, number = entry.action, entry.detail, _object_id(entry)
    t = ctx.t
    if action == "join":
        return str(t("admin.log.join", unit=await _unit_text(ctx, number), role=_role_text(ctx, detail.get("role"))))
    if action == "invite":
        return str(t("admin.log.invite", code=detail.get("code", ""), role=_role_text(ctx, detail.get("role")),
                     unit=await _unit_text(ctx, number)))
    if action == "invite_revoke":
        return str(t("admin.log.invite_revoke", code=entry.object.partition(":")[2]))
    if action == "role":
        return str(t("admin.log.role", member=await _member_text(ctx, number),
                     old=_role_text(ctx, detail.get("from")), new=_role_text(ctx, detail.get("to"))))
    if action in ("disable", "enable", "member_forget", "member_add", "link", "unlink"):
        member = await _member_text(ctx, number)
        if action == "link":
            return str(t("admin.log.link", member=member, channel=_channel_names(ctx, str(detail.get("channel")))))
        if action == "unlink":
            removed = " ".join(str(c) for c in detail.get("removed", []))
            return str(t("admin.log.unlink", member=member, channels=_channel_names(ctx, removed)))
        if action == "disable":
            return str(t("admin.log.disable", member=member))
        if action == "enable":
            return str(t("admin.log.enable", member=member))
        if action == "member_add":
            return str(t("admin.log.member_add", member=member))
        return str(t("admin.log.member_forget", member=member))
    if action in ("void", "correct"):
        report = await _report_text(ctx, number)
        reason = str(detail.get("reason", ""))
        if action == "void":
            return str(t("admin.log.void", report=report, reason=reason))
        return str(t("admin.log.correct", report=report, old=detail.get("from", ""), new=detail.get("to", ""),
                     new_id=detail.get("new", ""), reason=reason))
    if action == "proxy_report":
        return str(t("admin.log.proxy_report", member=await _member_text(ctx, number),
                     items=await _proxy_items(ctx, entry)))
    if action in ("commune_add", "village_add", "village_an", "village_hien"):
        return str(t(f"admin.log.{action}", unit=await _unit_text(ctx, number)))
    if action == "village_rename":
        return str(t("admin.log.village_rename", old=detail.get("old") or t("admin.log.some_unit"),
                     unit=await _unit_text(ctx, number)))
    if action == "village_figures":
        return str(t("admin.log.village_figures", unit=await _unit_text(ctx, number),
                     households=detail.get("households", "—"), adults=detail.get("adults", "—")))
    if action == "villages_import":
        return str(t("admin.log.villages_import", unit=await _unit_text(ctx, number),
                     added=detail.get("added", 0), updated=detail.get("updated", 0)))
    if action == "announce":
        return str(t("admin.log.announce", id=number, people=detail.get("recipients", 0)))
    if action == "target":
        return str(t("admin.log.target", unit=await _unit_text(ctx, number),
                     service=_service_text(ctx, detail.get("service")), year=detail.get("year", ""),
                     value=detail.get("value", "")))
    if action in ("deadline.add", "deadline.remove"):
        key = "admin.log.deadline_add" if action == "deadline.add" else "admin.log.deadline_remove"
        return str(t(key, id=number, name=detail.get("name", ""), due=_day_text(ctx, detail.get("due"))))
    if action == "reminder.adhoc":
        what = detail.get("name") or _period_text(ctx, entry.object.partition(":")[2])
        return str(t("admin.log.reminder_adhoc", what=what, messages=detail.get("messages", 0)))
    if action == "period.confirm":
        timing = t("admin.log.on_time") if detail.get("on_time", True) else t("admin.log.late")
        return str(t("admin.log.confirm", unit=await _unit_text(ctx, number),
                     period=_period_text(ctx, detail.get("period")),
                     figures=_figures_text(ctx, detail.get("figures")), timing=timing))
    if action in ("period.close", "period.reopen"):
        period = _period_text(ctx, entry.object.partition(":")[2])
        if action == "period.reopen":
            return str(t("admin.log.reopen", period=period))
        return str(t("admin.log.close_auto" if detail.get("auto") else "admin.log.close", period=period))
    return str(t("admin.log.other"))  # an action this version does not know: never its code


FEATURE = Feature(
    name="admin",
    texts="texts/admin.yaml",
    commands=(
        Command(("moi", "invite"), invite, STAFF),
        Command(("maimoi", "invites"), invites, STAFF),
        Command(("thuhoi", "revoke"), revoke, STAFF),
        Command(("thanhvien", "members"), members, TEAM_KEEPERS),
        Command(("themtv", "addmember"), add_member, TEAM_KEEPERS),
        Command(("vaitro", "role"), set_role, STAFF),
        Command(("khoa", "disable"), disable, STAFF),
        Command(("mokhoa", "enable"), enable, STAFF),
        Command(("nhatky", "audit"), audit, STAFF),
    ),
    # "Xem tiếp" under a page of /thanhvien or /maimoi (bot/flows/paging.py).
    global_actions={"tv": on_more(TEAM_KEEPERS, members_page), "mm": on_more(STAFF, invites_page, text_cursor=True)},
)
