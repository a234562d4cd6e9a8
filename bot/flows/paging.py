"""Long lists a page per message, with a "xem tiếp" option (issue 11).

``/thanhvien``, ``/thon``, ``/gannhat`` and ``/maimoi`` answer one page: at most
:data:`PAGE_LINES` lines and :data:`PAGE_CHARS` characters, one message on every channel
(well under Telegram's 4,096; the Telegram adapter would split a longer one anyway). When
more follows, the page carries a "xem tiếp" option.

That option is a *global* option (``g:<list>:<filter>:<page>:<cursor>``): its data names the
list, its filter (a village id, or 0) and a keyset cursor, the last item shown. So the
button works whenever it is tapped, after any other message, twice or a week later, and the
next page is read as an index range with a LIMIT from that cursor, never by reading (or
skipping) the pages before it. A flow step would have tied it to the next message only, and
an offset would have re-read every earlier page. The list's handler checks the scope again
on every page. On text-only channels the option's key (:data:`MORE_KEY`) is typed instead;
as for every option there, it answers the very next message (typing the command again starts
the list over).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from bot.domain.messages import Markup, Reply
from bot.flows.commands import role_of
from bot.flows.context import Context

PAGE_LINES = 30
PAGE_CHARS = 3000
MORE_KEY = "1"  # the page's only option

PageHandler = Callable[[Context, int, int, int], Awaitable[list[Reply]]]


def fit(lines: Sequence[str], limit: int = PAGE_LINES, budget: int = PAGE_CHARS) -> int:
    """How many of ``lines`` go on one page: at most ``limit``, within ``budget`` characters
    (always at least one)."""
    size = 0
    for count, line in enumerate(lines[:limit]):
        size += len(line) + 1
        if count and size > budget:
            return count
    return min(len(lines), limit)


def page(ctx: Context, header: Markup, lines: Sequence[Markup], more: str | None,
         footer: Markup | None = None) -> Reply:
    """One page; ``more`` is the global action of the next page (None on the last one)."""
    text = Markup.lines([header, *lines, *([footer] if footer else [])])
    rows = [[ctx.global_option(ctx.t("paging.more"), more, MORE_KEY)]] if more else None
    return ctx.reply(text, rows)


def more_action(name: str, filter_id: int, page_number: int, cursor: int | str) -> str:
    """The data of a "xem tiếp" option: well under Telegram's 64 bytes (ids and codes only)."""
    return f"{name}:{filter_id}:{page_number}:{cursor}"


def on_more(roles: frozenset[str], handler: PageHandler, text_cursor: bool = False):  # type: ignore[no-untyped-def]
    """A global action (``Feature.global_actions``) for a list: parses the option's data, checks the role as the
    command does, leaves any flow as a command does, and shows the page after the cursor."""

    async def action(ctx: Context, rest: str) -> list[Reply]:
        filter_id, _, tail = rest.partition(":")
        page_number, _, cursor = tail.partition(":")
        if not (filter_id.isdigit() and page_number.isdigit() and cursor) or (
                not text_cursor and not cursor.isdigit()):
            return [ctx.say("errors.stale_button")]
        if role_of(ctx) not in roles:
            return [ctx.say("errors.not_allowed")]
        ctx.end()
        return await handler(ctx, int(filter_id), int(page_number), cursor if text_cursor else int(cursor))

    return action
