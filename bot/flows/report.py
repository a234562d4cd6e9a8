"""Reporting what a team helped with: by buttons (/baocao) or in one line of text. A count is
of households, people or sessions, as the catalogue says for the service (and the commune).

Buttons: menu -> service -> count -> confirm, four taps from the menu button to the
stored report; the confirmation is for today, with "ngày khác" beside it for another day (a
zero report too). A lone number typed ("5") asks which service it is for, then confirms.
Cancel at any step. Text: parsed, recorded at once, answered with what was
understood and an undo button (one tap to take back a misread line, zero taps
for the usual correct one).

Commands: /baocao (registered), and one-line text reports
Steps:    service, count, day, confirm, repeat
Tables:   reports (and report_months, by trigger)
Texts:    content/texts/report.yaml
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache

from bot.content import shipped_vocabulary
from bot.domain.messages import Markup, Reply
from bot.domain.report_parser import LONG_DIGITS, ParseIssue, ParseResult, parse_report
from bot.domain.reports import NONE_SERVICE
from bot.domain.textutil import clean, fold, reorders
from bot.flows.commands import MEMBERS, REGISTERED, Command
from bot.flows.context import UNDO_KEY, Context
from bot.flows.cycle import changed, refuse_if_closed
from bot.flows.feature import Feature, Flow
from storage.models import NewReport

FLOW = "report"
REPORTING_ROLES = MEMBERS
QUICK_COUNTS = (1, 2, 3, 4, 5)
UNDO_LAST = "undo-last"  # typed "huy" right after a text report: take back the member's last report
MAX_REMEMBERED = 24  # a chat's reports in the repeat window it remembers (a busy day's burst, resent after a crash)
DAY_ISSUES = ("bad_date", "future_date", "tomorrow")
ZERO = NewReport(NONE_SERVICE, 0)  # an explicit "no household this time" report (stored with count 0)


def can_report(ctx: Context) -> bool:
    return ctx.member is not None and ctx.member.role in REPORTING_ROLES


def day_text(day: date) -> str:
    return f"{day.day:02d}/{day.month:02d}/{day.year}"  # "%d/%m/%Y", without strftime's cost


def items_text(ctx: Context, items: Sequence[NewReport]) -> Markup:
    catalogue = ctx.content.catalogue
    return Markup.lines(
        [
            ctx.t("zero.item") if it.service == NONE_SERVICE
            else ctx.t("report.item", label=catalogue.get(it.service).short,  # type: ignore[union-attr]
                       count=it.count, unit=ctx.unit_word(it.service))
            for it in items
        ]
    )


def issue_text(ctx: Context, issue: ParseIssue) -> Markup:
    service = ctx.content.catalogue.get(issue.service) if issue.service else None
    return ctx.t(
        f"parse_errors.{issue.code}",
        service=service.short if service else "",
        unit=ctx.unit_word(issue.service),
        value=issue.value or "",
        max=ctx.content.limits.max_count_per_report,
    )


def check_day(ctx: Context, day: date) -> Reply | None:
    """None if ``day`` may be reported; otherwise the reply explaining why not."""
    if day > ctx.today:
        return ctx.say("report.day_future")
    if day < ctx.today - timedelta(days=ctx.content.limits.max_backdate_days):
        return ctx.say("report.day_too_old", days=ctx.content.limits.max_backdate_days)
    return None


async def record(ctx: Context, items: Sequence[NewReport], day: date, source: str,
                 batch_id: str | None = None) -> str | Reply:
    """Store one report per item for ``day``; the batch id (new unless given) is what undo takes
    back. The refusal instead if ``day`` is in a closed period."""
    assert ctx.member is not None
    refused = await refuse_if_closed(ctx, ctx.member.unit_id, [day])
    if refused is None and list(items) == [ZERO]:
        refused = await zero_refused(ctx, ctx.member.id, day)
    if refused is not None:
        return refused
    batch_id = batch_id or secrets.token_urlsafe(6)
    await ctx.uow.reports.add_batch(batch_id, ctx.member.id, ctx.member.unit_id, items, day, source, ctx.now)
    await changed(ctx, ctx.member.unit_id, [day], "report")
    window = timedelta(minutes=ctx.content.limits.repeat_window_minutes)
    if window and list(items) != [ZERO]:  # the chat remembers it for the repeat window
        fresh = [entry for entry in ctx.memory or [] if datetime.fromisoformat(entry[1]) > ctx.now - window]
        ctx.remember([*fresh[-(MAX_REMEMBERED - 1):], [signature(items, day), ctx.now.isoformat()]])
    return batch_id


async def zero_refused(ctx: Context, member_id: int, day: date) -> Reply | None:
    """"Nothing" for a day that already has the member's reports contradicts them: said, not recorded."""
    totals = await ctx.uow.reports.member_totals(member_id, day, day)
    items = [NewReport(service, totals[service]) for service in ctx.content.catalogue.codes if totals.get(service)]
    return ctx.say("zero.has_reports", day=day_text(day), items=items_text(ctx, items)) if items else None


def signature(items: Sequence[NewReport], day: date) -> str:
    return f"{day.isoformat()}|" + ",".join(f"{s}:{n}" for s, n in sorted((it.service, it.count) for it in items))


# Text reports ---------------------------------------------------------------
def _parse(ctx: Context, text: str) -> ParseResult:
    return parse_report(text, today=ctx.today, catalogue=ctx.content.catalogue, lexicon=ctx.content.lexicon,
                        max_count=ctx.content.limits.max_count_per_report)


def reads_as_report(ctx: Context, text: str) -> bool:
    """Whether a line is a report attempt (right or wrong): a service, a count error, "không có"."""
    if ctx.content.answers.is_echo(text):
        return True  # the bot's own confirmation pasted back: from_text says what it is
    result = _parse(ctx, text)
    return result.is_report or result.nothing or any(i.service for i in result.issues)


async def from_text(ctx: Context, text: str) -> list[Reply]:
    if ctx.content.answers.is_echo(text):
        return [ctx.say("report.echo")]
    result = _parse(ctx, text)
    if result.issues:
        lines = [issue_text(ctx, issue) for issue in result.issues]
        return [ctx.reply(Markup.lines([*lines, ctx.t("report.text_example")]))]
    if not result.is_report and not result.nothing:
        return [ctx.say("report.not_understood" if can_report(ctx) else "report.staff_not_understood")]
    if not can_report(ctx):
        return [not_allowed(ctx)]
    groups = day_groups(ctx, result)
    for day, _ in groups:
        problem = check_day(ctx, day)
        if problem:
            return [problem]
    if len(groups) > 1:
        return await _several_days(ctx, groups)
    ((day, items),) = groups
    earlier = await same_report_earlier(ctx, items, day)
    if earlier is not None and items == [ZERO]:  # "nothing" for a day is recorded once
        return [ctx.say("zero.already", day=day_text(day), time=clock_text(ctx, earlier))]
    if earlier is not None:
        ctx.goto(FLOW, "repeat", items=[[it.service, it.count] for it in items], day=day.isoformat(),
                 first=clock_text(ctx, earlier))
        return [_ask_repeat(ctx)]
    return await _record_text(ctx, items, day)


def day_groups(ctx: Context, result: ParseResult) -> list[tuple[date, list[NewReport]]]:
    """The items of a parsed line by the day each was done, in the order the days come; an
    explicit "nothing" is one zero report for the day named (or today)."""
    if not result.items:
        return [(result.date or ctx.today, [ZERO])]
    groups: dict[date, list[NewReport]] = {}
    for item in result.items:
        groups.setdefault(item.date or result.date or ctx.today, []).append(NewReport(item.service, item.count))
    return list(groups.items())


async def _several_days(ctx: Context, groups: list[tuple[date, list[NewReport]]]) -> list[Reply]:
    """A line naming several days: recorded as one batch (one undo takes it all back); a resend of
    the whole line is asked about, as a single-day repeat is."""
    earlier = [await same_report_earlier(ctx, items, day) for day, items in groups]
    if all(when is not None for when in earlier):
        ctx.goto(FLOW, "repeat", groups=[[day.isoformat(), [[it.service, it.count] for it in items]]
                                         for day, items in groups],
                 first=clock_text(ctx, max(when for when in earlier if when is not None)))
        return [_ask_repeat(ctx)]
    return await _record_days(ctx, groups)


def _days_text(ctx: Context, groups: Sequence[tuple[date, Sequence[NewReport]]]) -> Markup:
    return Markup.lines([ctx.t("report.day_block", day=day_text(day), items=items_text(ctx, items))
                         for day, items in groups])


async def _record_days(ctx: Context, groups: list[tuple[date, list[NewReport]]]) -> list[Reply]:
    assert ctx.member is not None
    refused = await refuse_if_closed(ctx, ctx.member.unit_id, [day for day, _ in groups])
    if refused is not None:  # one closed day refuses the whole line: nothing half recorded
        return [refused]
    batch_id = secrets.token_urlsafe(6)
    for day, items in groups:
        await record(ctx, items, day, "text", batch_id)
    undo = ctx.global_option(ctx.t("buttons.undo"), f"undo:{batch_id}", UNDO_KEY, key_action=UNDO_LAST)
    return [ctx.reply(ctx.t("report.recorded_days", days=_days_text(ctx, groups)), [[undo]])]


def _stored_groups(data: dict) -> list[tuple[date, list[NewReport]]]:
    return [(date.fromisoformat(day), [NewReport(service, count) for service, count in items])
            for day, items in data["groups"]]


async def _record_text(ctx: Context, items: Sequence[NewReport], day: date) -> list[Reply]:
    batch_id = await record(ctx, items, day, "text")
    if isinstance(batch_id, Reply):
        return [batch_id]
    undo = ctx.global_option(ctx.t("buttons.undo"), f"undo:{batch_id}", UNDO_KEY, key_action=UNDO_LAST)
    if list(items) == [ZERO]:
        return [ctx.reply(ctx.t("zero.recorded_text", day=day_text(day)), [[undo]])]
    text_out = ctx.t("report.recorded_text", items=items_text(ctx, items), day=day_text(day))
    return [ctx.reply(text_out, [[undo]])]


def clock_text(ctx: Context, moment: datetime) -> str:
    """``HH:MM`` in the deployment's time zone, with the day when it was not today."""
    local = moment.astimezone(ctx.tz)
    return f"{local:%H:%M}" if local.date() == ctx.today else f"{local:%H:%M} {local:%d/%m}"


async def same_report_earlier(ctx: Context, items: Sequence[NewReport], day: date) -> datetime | None:
    """When the member already recorded these very items for ``day``, if they did: within the
    repeat window (``limits.repeat_window_minutes``), or at any time for an explicit zero."""
    assert ctx.member is not None
    zero = list(items) == [ZERO]
    window = timedelta(days=ctx.content.limits.max_backdate_days + 1) if zero \
        else timedelta(minutes=ctx.content.limits.repeat_window_minutes)
    if not window:
        return None
    if not zero:  # the chat's memory says whether it may be a repeat; storage says whether it still is
        wanted = signature(items, day)
        if not any(entry[0] == wanted for entry in ctx.memory or []):
            return None
    return await ctx.uow.reports.same_batch_since(ctx.member.id, day, items, ctx.now - window)


# Button flow ------------------------------------------------------------------
def not_allowed(ctx: Context) -> Reply:
    """Someone who does not report (commune staff, an admin) asked to: who does, and what they can do."""
    if ctx.member is not None and ctx.member.role in ("staff", "admin"):
        return ctx.say("report.staff_not_reporting")
    return ctx.say("report.not_allowed")


async def start(ctx: Context, args: str = "") -> list[Reply]:
    if not can_report(ctx):
        return [not_allowed(ctx)]
    ctx.goto(FLOW, "service")
    return [_ask_service(ctx)]


async def start_with_count(ctx: Context, count: int) -> list[Reply]:
    """A lone number typed ("5"): which service was it for? Then the confirmation."""
    if not can_report(ctx):
        return [not_allowed(ctx)]
    ctx.goto(FLOW, "service", count=count)
    return [_ask_service(ctx)]


def _ask_service(ctx: Context) -> Reply:
    buttons = [
        ctx.option(service.short, f"svc:{service.code}", str(index))
        for index, service in enumerate(ctx.content.catalogue.services, start=1)
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    count = ctx.conv.data.get("count")
    if count:  # the number came first: only the service is missing
        return ctx.reply(ctx.t("report.ask_service_for", count=count), [*rows, [ctx.cancel_option()]])
    zero = ctx.option(ctx.t("zero.button"), "zero", str(len(buttons) + 1))  # "0" cancels, as in every step
    return ctx.reply(ctx.t("report.ask_service"), [*rows, [zero], [ctx.cancel_option()]])


def _ask_count(ctx: Context) -> Reply:
    service = ctx.content.catalogue.get(ctx.conv.data["service"])
    assert service is not None
    row = [ctx.option(str(n), f"n:{n}", str(n)) for n in QUICK_COUNTS]
    return ctx.reply(ctx.t("report.ask_count", service=service.label, unit=ctx.unit_word(service.code)),
                     [row, [ctx.cancel_option()]])


def _ask_day(ctx: Context) -> Reply:
    rows = [
        [ctx.option(ctx.t("buttons.today"), "d:0", "1"), ctx.option(ctx.t("buttons.yesterday"), "d:1", "2")],
        [ctx.cancel_option()],
    ]
    return ctx.reply(ctx.t("report.ask_day"), rows)


def _ask_confirm(ctx: Context) -> Reply:
    """The summary, for today unless another day was chosen: one tap records it, "ngày khác"
    picks another day (a zero report too)."""
    data = ctx.conv.data
    items = [NewReport(data["service"], data["count"])]
    day = date.fromisoformat(data["day"])
    rows = [[ctx.option(ctx.t("buttons.confirm"), "ok", "1"), ctx.option(ctx.t("buttons.other_day"), "day", "2")],
            [ctx.cancel_option()]]
    key = "report.confirm_today" if day == ctx.today else "report.confirm"
    text = ctx.t(key, items=items_text(ctx, items), day=day_text(day))
    return ctx.reply(text, rows)


async def on_choice(ctx: Context, action: str) -> list[Reply]:
    step = ctx.conv.step
    if action == "cancel":
        ctx.end()
        return [ctx.reply(ctx.t("report.cancelled"), menu=True)]
    if step == "service" and action == "zero":
        ctx.goto(FLOW, "confirm", service=NONE_SERVICE, count=0, day=ctx.today.isoformat())
        return [_ask_confirm(ctx)]
    if step == "service" and action.startswith("svc:"):
        code = action[4:]
        if ctx.content.catalogue.get(code) is None:
            return [_ask_service(ctx)]
        if ctx.conv.data.get("count"):  # "5" typed first: straight to the confirmation
            ctx.goto(FLOW, "confirm", service=code, day=ctx.today.isoformat())
            return [_ask_confirm(ctx)]
        ctx.goto(FLOW, "count", service=code)
        return [_ask_count(ctx)]
    if step == "confirm" and action == "day":
        ctx.goto(FLOW, "day")
        return [_ask_day(ctx)]
    if step == "count" and action.startswith("n:"):
        return _set_count(ctx, int(action[2:]))
    if step == "day" and action.startswith("d:"):
        return _set_day(ctx, ctx.today - timedelta(days=int(action[2:])))
    if step == "confirm" and action == "ok":
        data = ctx.conv.data
        items = [NewReport(data["service"], data["count"])]
        day = date.fromisoformat(data["day"])
        problem = check_day(ctx, day)  # the day may have turned since the summary was shown
        if problem:
            ctx.end()
            return [problem]
        earlier = await same_report_earlier(ctx, items, day) if items == [ZERO] else None
        if earlier is not None:
            ctx.end()
            return [ctx.reply(ctx.t("zero.already", day=day_text(day), time=clock_text(ctx, earlier)), menu=True)]
        recorded = await record(ctx, items, day, "buttons")
        ctx.end()
        if isinstance(recorded, Reply):
            return [recorded]
        text = ctx.t("report.recorded", items=items_text(ctx, items), day=day_text(day))
        return [ctx.reply(text, menu=True)]
    if step == "repeat" and "groups" in ctx.conv.data:  # a line that named several days
        groups, first = _stored_groups(ctx.conv.data), ctx.conv.data["first"]
        ctx.end()
        if action != "again":
            return [ctx.reply(ctx.t("report.repeat_skipped", time=first), menu=True)]
        problem = next((p for p in (check_day(ctx, day) for day, _ in groups) if p), None)
        return [problem] if problem else await _record_days(ctx, groups)
    if step == "repeat":
        data = ctx.conv.data
        items = [NewReport(service, count) for service, count in data["items"]]
        day, first = date.fromisoformat(data["day"]), data["first"]
        ctx.end()
        if action != "again":
            return [ctx.reply(ctx.t("report.repeat_skipped", time=first), menu=True)]
        problem = check_day(ctx, day)
        return [problem] if problem else await _record_text(ctx, items, day)
    return [ctx.say("errors.stale_button")]


def _ask_repeat(ctx: Context) -> Reply:
    data = ctx.conv.data
    if "groups" in data:
        text = ctx.t("report.repeat_ask_days", time=data["first"], days=_days_text(ctx, _stored_groups(data)))
    else:
        items = [NewReport(service, count) for service, count in data["items"]]
        text = ctx.t("report.repeat_ask", time=data["first"], items=items_text(ctx, items),
                     day=day_text(date.fromisoformat(data["day"])))
    rows = [[ctx.option(ctx.t("buttons.again"), "again", "1"), ctx.option(ctx.t("buttons.not_again"), "skip", "2")]]
    return ctx.reply(text, rows)


def _set_count(ctx: Context, count: int) -> list[Reply]:
    if not 1 <= count <= ctx.content.limits.max_count_per_report:
        return [_ask_count(ctx)]
    ctx.goto(FLOW, "confirm", count=count, day=ctx.today.isoformat())
    return [_ask_confirm(ctx)]


def _set_day(ctx: Context, day: date) -> list[Reply]:
    problem = check_day(ctx, day)
    if problem:
        return [problem, _ask_day(ctx)]
    ctx.goto(FLOW, "confirm", day=day.isoformat())
    return [_ask_confirm(ctx)]


def _says_nothing(ctx: Context, text: str) -> bool:
    result = _parse(ctx, text)
    return result.nothing and result.date is None


@lru_cache(maxsize=8)
def _count_pattern(units: tuple[str, ...]) -> re.Pattern[str]:
    """A typed count, folded, with an optional unit after it ("5 hộ"). ASCII digits only: clean()
    has turned every other decimal digit into 0-9."""
    words = "|".join(re.escape(unit) for unit in sorted(units, key=len, reverse=True))
    return re.compile(rf"^\s*(-?[0-9]+(?:[.,][0-9]+)?)\s*(?:{words})?\s*$")


def count_issue(text: str, max_count: int, units: tuple[str, ...] | None = None) -> tuple[int | None, str | None]:
    """A typed count (households, people or sessions): (count, None) or (None, parse error code).

    Read like a count in a one-line report: any Unicode decimal digit is a digit, invisible
    characters are ignored, "1e9"/"0x10" are not numbers, a long digit run is too large.
    ``units``: the folded words that may follow the number (``vocabulary.count_units_of`` the
    service's kind; by default every unit word of the shipped content).
    """
    cleaned = clean(text)
    if reorders(cleaned):
        return None, "reordered"
    pattern = _count_pattern(units if units is not None else shipped_vocabulary().count_units)
    match = pattern.match(fold(cleaned.translate({0x2212: "-", 0x2013: "-", 0x2014: "-"})))  # minus, dashes
    if not match:
        return None, "not_a_number"
    raw = match.group(1)
    if re.fullmatch(r"[0-9]{1,3}(?:\.[0-9]{3})+", raw):  # "1.000" is a thousand, as in a report line
        raw = raw.replace(".", "")
    if "." in raw or "," in raw:
        return None, "fraction"
    digits = raw.lstrip("-").lstrip("0")
    if raw.startswith("-") and digits:
        return None, "negative"
    if not digits:
        return None, "zero"
    if len(digits) >= LONG_DIGITS or int(digits) > max_count:
        return None, "too_large"
    return int(digits), None


async def on_text(ctx: Context, text: str) -> list[Reply] | None:
    """A typed answer to the pending step; None when the line is not one (the engine then
    treats a report line as a report, and asks anything else again)."""
    step = ctx.conv.step
    if step == "service":
        wanted = fold(text)
        if _says_nothing(ctx, text):
            return await on_choice(ctx, "zero")
        for service in ctx.content.catalogue.services:
            if wanted in {fold(a) for a in (*service.aliases, service.code, service.short)}:
                return await on_choice(ctx, f"svc:{service.code}")
        return None
    if step == "count":
        max_count = ctx.content.limits.max_count_per_report
        kind = ctx.content.catalogue.unit_of(ctx.conv.data.get("service", ""), ctx.commune_code)
        value, code = count_issue(text, max_count, ctx.content.vocabulary.count_units_of(kind))
        if value is not None:
            return _set_count(ctx, value)
        if code == "not_a_number" and reads_as_report(ctx, text):
            return None  # a whole report line ("cks 2"): the engine records it as one
        issue = ParseIssue(code=code or "not_a_number", service=ctx.conv.data.get("service"), value=text.strip())
        return [ctx.reply(issue_text(ctx, issue)), _ask_count(ctx)]
    if step == "day":
        result = _parse(ctx, text)
        if result.items:
            return None  # a report line, with its own day if it names one
        day_issues = [i for i in result.issues if i.code in DAY_ISSUES]
        if day_issues:
            return [ctx.reply(issue_text(ctx, day_issues[0])), _ask_day(ctx)]
        if result.date is None:
            return None
        return _set_day(ctx, result.date)
    answer = ctx.content.answers.yes_or_no(text)
    if step == "confirm" and answer is not None:
        return await on_choice(ctx, "ok" if answer else "cancel")
    if step == "confirm":  # a day typed at the confirmation ("hôm qua", "15/11"): the same summary for it
        result = _parse(ctx, text)
        day_issues = [i for i in result.issues if i.code in DAY_ISSUES]
        if day_issues and not result.items:
            return [ctx.reply(issue_text(ctx, day_issues[0])), _ask_confirm(ctx)]
        if result.date is not None and not result.items and not result.issues:
            return _set_day(ctx, result.date)
    if step == "repeat" and answer is not None:
        return await on_choice(ctx, "again" if answer else "skip")
    return None


async def prompt(ctx: Context) -> Reply | None:
    """The pending step's question again, with its options."""
    asks = {"service": _ask_service, "count": _ask_count, "day": _ask_day, "confirm": _ask_confirm,
            "repeat": _ask_repeat}
    ask = asks.get(ctx.conv.step)
    try:
        return ask(ctx) if ask is not None else None
    except KeyError:  # the step's data is incomplete (a conversation stored by an older version)
        return None


FEATURE = Feature(
    name="report",
    texts="texts/report.yaml",
    # Staff may type /baocao too: they are told who reports instead of "not allowed".
    commands=(Command(("baocao", "bc", "report"), start, REGISTERED),),
    flow=Flow(FLOW, ("service", "count", "day", "confirm", "repeat"), on_choice, on_text, prompt),
)
