"""Staff manage villages and targets from the chat."""

from __future__ import annotations

from support import peek
from support.helpers import ChatUser

from bot.flows.engine import Engine
from bot.services.demo import Demo
from storage import Database


async def test_add_rename_figures_hide(engine: Engine, demo: Demo, db: Database):
    staff = ChatUser(engine, demo.staff_user, channel="terminal")
    assert "AP-MY-THANH – Ấp Mỹ Thạnh – 412 hộ – 1.093 người" in await staff.send("/thon")
    assert "Đã thêm Ấp Mới" in await staff.send("/thon them AP-MOI Ấp Mới")
    assert "Đã có thôn" in await staff.send("/thon them AP-MOI Trùng")
    assert "Ấp Mới Phát" in await staff.send("/thon doiten ap-moi Ấp Mới Phát")
    assert "210 hộ, 540 người" in await staff.send("/thon so AP-MOI 210 540")
    assert "Số liệu: /thon so" in await staff.send("/thon so AP-MOI -3 5")  # the usage, nothing changed
    assert "Đã ẩn" in await staff.send("/thon an AP-MOI")
    assert "đã ẩn" in await staff.send("/thon")
    assert await peek.rows(db, "units", "name, households, adults, active", where="code = 'AP-MOI'") == [
        ("Ấp Mới Phát", 210, 540, 0)]
    assert "Không tìm thấy «KHONG-CO»" in await staff.send("/thon an KHONG-CO")
    assert "thêm thôn" in await staff.send("/nhatky")


async def test_targets(engine: Engine, demo: Demo, db: Database):
    staff = ChatUser(engine, demo.staff_user, channel="terminal")
    assert "Đã đặt chỉ tiêu VNeID năm 2026 của Ấp Mỹ Phú: 80%" in await staff.send("/chitieu AP-MY-PHU vneid 2026 80%")
    assert "Chữ ký số" in await staff.send("/chitieu xa chữ ký số 2026 500")
    assert "30% số người lớn" in await staff.send("/chitieu AP-MY-PHU kns 2026 30% người")
    assert "phần trăm" in await staff.send("/chitieu AP-MY-PHU kns 2026 30 người")  # adults: a share only
    assert "phần trăm" in await staff.send("/chitieu AP-MY-PHU vneid 2026 180%")
    assert "Gõ /chitieu" in await staff.send("/chitieu AP-MY-PHU bánh 2026 5")
    got = await peek.rows(db, "targets t JOIN units u ON u.id = t.unit_id",
                          "u.code, t.service, t.year, t.kind, t.value", where="t.year = 2026")
    assert ("AP-MY-PHU", "vneid", 2026, "percent", 80.0) in got
    assert ("XA-MY-HIEP", "chu_ky_so", 2026, "absolute", 500.0) in got
    assert ("AP-MY-PHU", "ky_nang_so", 2026, "percent_adults", 30.0) in got


def test_target_numbers():
    from storage.sql.tallies import Target

    assert Target(1, "ky_nang_so", 2026, "percent_adults", 30).households(368, 975) == 292
    assert Target(1, "vneid", 2026, "percent", 80).households(368, 975) == 294
    assert Target(1, "vneid", 2026, "absolute", 120).households(None) == 120
    assert Target(1, "vneid", 2026, "percent_adults", 30).households(368, None) is None


async def test_members_cannot_manage_villages(engine: Engine, demo: Demo, db: Database):
    member = ChatUser(engine, "9301")
    await member.send(f"/start {demo.villages[0].leader_code}")
    assert "dành cho cán bộ xã" in await member.send("/thon them X Thôn X")
    assert "dành cho cán bộ xã" in await member.send("/chitieu xa vneid 2026 5")
    assert await peek.count(db, "units", "code = 'X'") == 0
