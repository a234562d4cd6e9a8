"""/huongdan: guides a team member follows beside a resident."""

from __future__ import annotations

from support.helpers import ChatUser

from bot.domain.messages import plain_text
from bot.services.demo import Demo
from storage import Database


async def test_the_list_offers_every_guide_and_a_button_opens_one(user: ChatUser, demo: Demo):
    await user.send(f"/start {demo.villages[0].member_code}")
    listing = await user.send("/huongdan")
    assert "Hướng dẫn" in listing
    labels = [plain_text(o.label) for row in user.last[0].options for o in row]
    assert len(labels) == 6 and "🪪 VNeID" in labels and "⚠️ Lừa đảo" in labels
    answer = await user.tap("✍️ Chữ ký số")
    assert "Chữ ký số cá nhân" in answer and "Cần giúp" in answer


async def test_a_topic_typed_as_people_type_it(user: ChatUser, demo: Demo):
    await user.send(f"/start {demo.villages[0].member_code}")
    for typed in ("chu ky so", "SmartCA", "/huongdan cks"):
        answer = await user.send(typed if typed.startswith("/") else f"/huongdan {typed}")
        assert "Chữ ký số cá nhân" in answer and "1. " in answer
        assert answer.rstrip().splitlines()[-2].startswith("Cần giúp")  # where to get help, then the way back
    scams = await user.send("/huongdan lua dao")
    assert "Công an không gọi điện" in scams


async def test_a_button_of_an_old_list_opens_its_guide_later(user: ChatUser, demo: Demo, db: Database):
    await user.send(f"/start {demo.villages[0].member_code}")
    await user.send("/huongdan")
    old_list = list(user.last)
    await user.send("vneid 2")
    await user.send("/cuatoi")
    answer = await user.tap("💳 Thanh toán", old_list)
    assert "Mở tài khoản thanh toán" in answer and "Quét QR" in answer


async def test_an_unknown_topic_is_answered_with_the_list(user: ChatUser, demo: Demo):
    answer = await user.send("/huongdan xyz")  # a guest may read the guides too
    assert "Chưa có hướng dẫn «xyz»" in answer
    assert sum(len(row) for row in user.last[0].options) == 6


async def test_on_a_text_channel_the_guides_number_picks_it(engine, demo: Demo):
    zalo = ChatUser(engine, "z-77", "Hà", channel="zalo")
    await zalo.send(f"/start {demo.villages[1].member_code}")
    await zalo.send("/huongdan")
    answer = await zalo.send("5")
    assert "Sổ sức khỏe điện tử" in answer
