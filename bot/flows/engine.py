"""The conversation core: one inbound update in, replies out, one transaction.

For every update the engine, inside a single unit of work run wholly in the database
thread (one round trip, see ``Database.run``):
1. records (channel, update key); a redelivered update stops here and changes nothing;
2. loads the member and the stored conversation (and marks which of a member's channels
   was used last);
3. routes to a command, a button, a flow step or the text-report parser (the tables of
   ``bot.flows.registry``, built from each feature's declaration);
4. stores the new conversation state with the effects (reports, voids, joins).
Replies are returned only after the commit, so what the user is told is what is stored;
files (charts, spreadsheets) are built from the data read, after the commit.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.content import Content, answer_key
from bot.domain.clock import Clock
from bot.domain.messages import Inbound, Reply, build_attachments
from bot.domain.textutil import clean, fold
from bot.flows import join, report, smalltalk, undo
from bot.flows.commands import PROVINCE_STAFF, role_of
from bot.flows.context import GLOBAL_PREFIX, KEYS_FIELD, MAX_KEY_CHARS, PUSHED_FIELD, Context, Refusal
from bot.flows.feature import Flow
from bot.flows.registry import COMMANDS, FLOWS, GLOBAL_ACTIONS, MENU, MENUS  # noqa: F401 (the channels read COMMANDS, MENUS here)
from bot.services.tallies import commune_code_of
from storage import Database, UnitOfWork
from storage.models import Conversation, Member

log = logging.getLogger(__name__)
_SYMBOLS = re.compile(r"[^\w\s]")


def split_command(text: str) -> tuple[str, str] | None:
    """``"/baocao@tcns_bot  x"`` -> ``("baocao", "x")``; None if not a command."""
    if not text.startswith("/"):
        return None
    head, _, args = text[1:].partition(" ")
    return fold(head.split("@", 1)[0]), args.strip()


class Engine:
    def __init__(self, db: Database, content: Content, clock: Clock, tz: ZoneInfo) -> None:
        self.db = db
        self.content = content
        self.clock = clock
        self.tz = tz
        # Menu labels, also without their emoji: on text-only channels people type "bao cao".
        self._menu: dict[str, str] = {}
        for key, command in MENU.items():
            label = fold(content.texts(key))
            self._menu[label] = command
            self._menu[fold(_SYMBOLS.sub(" ", label))] = command

    async def handle(self, inbound: Inbound) -> list[Reply]:
        now = self.clock.now()
        replies = await self.db.run(lambda uow: self._handle(uow, inbound, now))
        return await build_attachments(replies)

    async def handle_many(self, inbounds: Sequence[Inbound]) -> list[list[Reply] | None]:
        """:meth:`handle` of several updates of one channel, each of a different chat, in ONE
        transaction: what a webhook's group of requests does (one commit, one round trip to
        hold every chat). Each update is handled exactly as alone; None for one handled before
        (a redelivery). If any of them raises, nothing of any is stored and the error goes to
        the caller (who then handles them one by one)."""
        now = self.clock.now()
        results = await self.db.run(lambda uow: self._handle_many(uow, inbounds, now))
        return [None if replies is None else await build_attachments(replies) for replies in results]

    async def _handle_many(self, uow: UnitOfWork, inbounds: Sequence[Inbound],
                           now: datetime) -> list[list[Reply] | None]:
        assert len({inbound.chat_id for inbound in inbounds}) == len(inbounds), "one update per chat"
        channel = inbounds[0].channel
        opened = await uow.open_inbound_many(channel, [(i.update_key, i.user_id, i.chat_id) for i in inbounds], now)
        uow.defer_appends()  # the group's reports: one INSERT, sent with the next statement (or the commit)
        # The communes of those who report, held and checked for today in one go (what each
        # report's write would do on its own; one that writes nothing has held a commune idly).
        await uow.cycle.prefetch_holds([member.unit_id for claimed, member, _ in opened if claimed and member
                                        and member.active and member.role in report.REPORTING_ROLES],
                                       now.astimezone(self.tz).date())
        # The conversations are saved together at the end: none of the group's flows reads a
        # conversation (each was loaded with its claim), and every chat is held until the commit.
        saves: list[tuple[str, Conversation]] = []
        out = [await self._handle_opened(uow, inbound, now, *found, saves=saves) if found[0] else None
               for inbound, found in zip(inbounds, opened, strict=True)]
        if saves:
            await uow.conversations.save_many(channel, saves, now)
        return out

    async def _handle(self, uow: UnitOfWork, inbound: Inbound, now: datetime) -> list[Reply]:
        """Everything one update does to storage, in one transaction (in the database thread)."""
        found = await uow.open_inbound(inbound.channel, inbound.update_key, inbound.user_id, inbound.chat_id, now)
        return await self._handle_opened(uow, inbound, now, *found)

    async def _handle_opened(self, uow: UnitOfWork, inbound: Inbound, now: datetime, claimed: bool,
                             member: Member | None, conv: Conversation,
                             saves: list[tuple[str, Conversation]] | None = None) -> list[Reply]:
        """The rest of :meth:`_handle`, the update claimed (or found handled before) and loaded.
        ``saves``: the new conversation goes there, to be saved by the caller, instead of now."""
        if not claimed:
            log.info("skipping redelivered update %s/%s", inbound.channel, inbound.update_key)
            return []
        loaded = (conv.flow, conv.step, dict(conv.data))
        ctx = Context(uow, self.content, now, self.tz, inbound, member, conv)
        if member is not None and self.content.catalogue.counts_by_commune:  # a query only when needed
            unit = await uow.units.get(member.unit_id)
            ctx.commune_code = await commune_code_of(uow, unit) if unit is not None else None
        try:
            replies = await self._route(ctx)
        except Refusal as refused:  # raised before any effect: only the answer goes out
            replies = refused.replies
        new = ctx.finish(loaded)
        if (new.flow, new.step, new.data) != loaded:
            if saves is None:
                await uow.conversations.save(inbound.channel, inbound.chat_id, new, now)
            else:
                saves.append((inbound.chat_id, new))
        return replies

    async def _route(self, ctx: Context) -> list[Reply]:
        replies = await self._route_message(ctx)
        if ctx.inbound.media and clean(ctx.inbound.text or "").strip():  # a caption was read; say the file was not
            replies.append(ctx.say("errors.media_not_kept"))
        return replies

    async def _route_message(self, ctx: Context) -> list[Reply]:
        inbound = ctx.inbound
        if ctx.member is not None and not ctx.member.active:
            return [ctx.say("errors.disabled")]
        if inbound.choice is not None:
            return await self._on_choice(ctx, inbound.choice)
        text = clean(inbound.text or "").strip()  # invisible characters out, digits as seen
        if not text:
            return [ctx.say("errors.not_text")]
        if len(text) > self.content.limits.max_message_chars:
            return [ctx.say("errors.too_long", max=self.content.limits.max_message_chars)]
        keys = ctx.conv.data.get(KEYS_FIELD, {})
        short = len(text) <= MAX_KEY_CHARS  # keys and menu labels are short
        folded = fold(text) if short else ""
        # Typed labels ("Giữ lại!", "ghi nhan"): by their letters, so "-4" never reads as "4".
        typed = answer_key(text) if short and not text.startswith("/") and any(c.isalpha() for c in text) else ""
        for candidate in (folded, typed):
            if candidate and candidate in keys:
                return await self._on_choice(ctx, keys[candidate])
        pushed = ctx.conv.data.get(PUSHED_FIELD) or {}  # a push's options: after the step's own answers
        if folded in pushed and ctx.conv.flow not in FLOWS:
            return await self._on_choice(ctx, pushed[folded])
        command = split_command(text)
        if command is None and folded in self._menu:
            command = (self._menu[folded], "")
        if command is not None:
            return await self._on_command(ctx, *command)
        if ctx.member is not None and typed and self.content.answers.is_undo(text):
            ctx.end()  # "hủy", "hoàn tác": the member's last report, at any time in the undo window
            return await undo.start(ctx)
        if ctx.conv.flow in FLOWS:
            flow = FLOWS[ctx.conv.flow]
            answered = await flow.on_text(ctx, text)
            if answered is not None:
                return answered
            if folded in pushed:  # "6" in a count step is six households; here, no answer to the step
                return await self._on_choice(ctx, pushed[folded])
            if report.can_report(ctx) and report.reads_as_report(ctx, text):
                ctx.end()  # a report typed while a question was pending: handled as what it is
                return await report.from_text(ctx, text)
            return await self._ask_again(ctx, flow)
        ctx.end()
        talk = await smalltalk.answer(ctx, text)  # "chào", "cảm ơn", "help", a lone "5"
        if talk is not None:
            return talk
        if ctx.member is None:
            return [ctx.say("join.required")]
        return await report.from_text(ctx, text)

    async def _ask_again(self, ctx: Context, flow: Flow) -> list[Reply]:
        """A line the pending step cannot take: the same question again, with its options
        (the buttons already on screen keep working)."""
        ctx.reoffer()
        prompt = await flow.prompt(ctx)
        if prompt is None:  # the step's data is gone (an old conversation): start afresh
            ctx.end()
            return [ctx.say("errors.step_lost")]
        return [ctx.say("errors.pick_option"), prompt]

    async def _on_command(self, ctx: Context, name: str, args: str) -> list[Reply]:
        command = COMMANDS.get(name)
        if command is None:
            return [ctx.say("errors.unknown_command")]
        role = role_of(ctx)
        if role not in command.roles:
            if ctx.member is None:
                return [ctx.say("join.required")]
            who = ", ".join(str(ctx.t(f"roles.{r}")) for r in ("member", "leader", "staff", PROVINCE_STAFF, "admin")
                            if r in command.roles)
            return [ctx.say("errors.command_not_for", command=name, who=who, example=ctx.t(f"errors.try.{role}"))]
        if not command.keeps_flow:
            ctx.end()  # a command leaves whatever flow was going on
        return await command.handler(ctx, args)

    async def _on_choice(self, ctx: Context, data: str) -> list[Reply]:
        if ctx.member is None and ctx.conv.flow != join.FLOW:
            return [ctx.say("join.required")]
        if data.startswith(GLOBAL_PREFIX):
            action = data[len(GLOBAL_PREFIX):]
            name, _, rest = action.partition(":")
            if name in GLOBAL_ACTIONS and ctx.member is not None:
                return await GLOBAL_ACTIONS[name](ctx, rest)
            if action.startswith("undo:") and ctx.member is not None:
                return await undo.void(ctx, action[len("undo:"):])
            if action == undo.UNDO_LAST and ctx.member is not None:
                return await undo.void_last(ctx)
            return [ctx.say("errors.stale_button")]
        version, _, action = data.partition(":")
        if version != str(ctx.conv.version) or ctx.conv.flow not in FLOWS:
            return [ctx.say("errors.stale_button")]
        return await FLOWS[ctx.conv.flow].on_choice(ctx, action)

    async def mark_unreachable(self, channel: str, chat_id: str) -> None:
        """A user blocked the bot: stop treating their chat as reachable."""
        async with self.db.uow() as uow:
            await uow.members.set_identity_active(channel, chat_id, False)
