"""/lienket codes cannot be guessed (issue 15): after 5 wrong codes from one chat or one
account within 30 minutes, codes are refused, even the right one, with a clear Vietnamese
answer; the count is stored, so another worker and a restart keep it."""

from __future__ import annotations

import re

from support import peek
from support.helpers import TZ, ChatUser

from bot.content import Content
from bot.domain.clock import FixedClock
from bot.domain.messages import Inbound
from bot.flows.engine import Engine
from bot.services.demo import Demo
from storage import Database

CODE = re.compile(r"\b(\d{4} \d{4})\b")


async def test_guessing_a_link_code_is_cut_off_after_five_wrong_codes(engine: Engine, demo: Demo, db: Database,
                                                                     content: Content, clock: FixedClock):
    lan = ChatUser(engine, "t-1", "Lan")
    assert "Chào mừng" in await lan.send(f"/start {demo.villages[0].member_code}")
    code = CODE.search(await lan.send("/lienket"))
    assert code is not None
    guesser = ChatUser(engine, "z-9", "Khách", channel="zalo")
    for n in range(3):
        assert "không đúng" in await guesser.send(f"/lienket 1111 000{n}")
    answer = await guesser.send("/lienket 1111 0003")
    assert "không đúng" in answer and "Còn 1 lần thử" in answer
    await guesser.send("/lienket 1111 0004")
    refused = await guesser.send(f"/lienket {code.group(1)}")  # even the right code, now
    assert "sai mã liên kết 5 lần" in refused and "thử lại sau 30 phút" in refused
    assert await peek.count(db, "identities", "channel = 'zalo'") == 0
    assert "z-9" not in str(await peek.rows(db, "link_attempts"))  # the ids only as hashes

    # Another worker, or the bot after a restart, keeps counting: the count is in storage.
    other = Engine(db, content, clock, TZ)
    clock.advance(minutes=10)
    again = await other.handle(Inbound("zalo", "u-restart", "z-9", "z-9", "Khách", text=f"/lienket {code.group(1)}"))
    assert "thử lại sau 20 phút" in again[0].text
    # The same account from another chat is refused too; so is another account in that chat.
    from_group = await other.handle(Inbound("zalo", "u-group", "z-9", "g-1", "Khách", text="/lienket 1111 0005"))
    assert "sai mã liên kết 5 lần" in from_group[0].text

    clock.advance(minutes=21)  # the window has passed
    code = CODE.search(await lan.send("/lienket"))
    assert code is not None
    assert "Đã liên kết" in await guesser.send(f"/lienket {code.group(1)}")
    assert await peek.count(db, "link_attempts") == 0  # a right code clears the count


async def test_a_wrong_code_now_and_then_is_never_refused(engine: Engine, demo: Demo, clock: FixedClock):
    lan = ChatUser(engine, "t-2", "Lan")
    await lan.send(f"/start {demo.villages[0].member_code}")
    ba = ChatUser(engine, "z-8", "Ba", channel="zalo")
    for _ in range(8):
        assert "không đúng" in await ba.send("/lienket 2222 0000")
        clock.advance(minutes=10)
    code = CODE.search(await lan.send("/lienket"))
    assert code is not None and "Đã liên kết" in await ba.send(f"/lienket {code.group(1)}")
