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
    assert "thêm Ấp Mới" in await staff.send("/nhatky")


async def test_targets(engine: Engine, demo: Demo, db: Database):
    staff = ChatUser(engine, demo.staff_user, channel="terminal")
    # VNeID counts people: its share is of the adults, said or not.
    assert "Đã đặt chỉ tiêu VNeID năm 2026 của Ấp Mỹ Phú: 80% số người lớn" in await staff.send(
        "/chitieu AP-MY-PHU vneid 2026 80%")
    assert "Chữ ký số" in await staff.send("/chitieu xa chữ ký số 2026 500")
    assert "30% số người lớn" in await staff.send("/chitieu AP-MY-PHU kns 2026 30% người")
    assert "30 người" in await staff.send("/chitieu AP-MY-PHU kns 2026 30 người")
    assert "60% số hộ" in await staff.send("/chitieu AP-MY-PHU thanh toán 2026 60%")
    assert "phần trăm" in await staff.send("/chitieu AP-MY-PHU vneid 2026 180%")
    assert "Gõ /chitieu" in await staff.send("/chitieu AP-MY-PHU bánh 2026 5")
    got = await peek.rows(db, "targets t JOIN units u ON u.id = t.unit_id",
                          "u.code, t.service, t.year, t.kind, t.value", where="t.year = 2026")
    assert ("AP-MY-PHU", "vneid", 2026, "percent_adults", 80.0) in got
    assert ("AP-MY-PHU", "thanh_toan", 2026, "percent", 60.0) in got
    assert ("XA-MY-HIEP", "chu_ky_so", 2026, "absolute", 500.0) in got
    assert ("AP-MY-PHU", "ky_nang_so", 2026, "absolute", 30.0) in got


async def test_targets_that_compare_unlike_things_are_refused(engine: Engine, demo: Demo, db: Database):
    staff = ChatUser(engine, demo.staff_user, channel="terminal")
    before = await peek.rows(db, "targets", "unit_id, service, kind, value")
    # Thanh toán counts households: a share of the adults compares unlike things.
    refused = await staff.send("/chitieu AP-MY-PHU thanh toán 2026 80% người")
    assert "Chưa đặt" in refused and "đếm số hộ" in refused and "phần trăm số hộ" in refused
    # VNeID counts people: a share of the households is refused too.
    refused = await staff.send("/chitieu AP-MY-PHU vneid 2026 80% hộ")
    assert "Chưa đặt" in refused and "đếm số người" in refused and "người lớn" in refused
    # Dịch vụ công counts sessions: nothing to take a share of; a number is what it takes.
    refused = await staff.send("/chitieu AP-MY-PHU dvc 2026 50%")
    assert "Chưa đặt" in refused and "đếm số lượt" in refused and "/chitieu AP-MY-PHU dich_vu_cong 2026 200" in refused
    assert "Chưa đặt" in await staff.send("/chitieu xa dvc 2026 50%")
    # Far beyond the village: Ấp Mỹ Phú has 368 households and 975 adults.
    refused = await staff.send("/chitieu AP-MY-PHU thanh toán 2026 5000")
    assert "Chưa đặt" in refused and "368 hộ" in refused
    refused = await staff.send("/chitieu AP-MY-PHU vneid 2026 5000")
    assert "Chưa đặt" in refused and "975 người lớn" in refused
    refused = await staff.send("/chitieu xa vneid 2026 9000")  # the commune: 6,353 adults in all
    assert "Chưa đặt" in refused and "6.353 người lớn" in refused
    assert await peek.rows(db, "targets", "unit_id, service, kind, value") == before
    # Sessions have no ceiling; a number within the village's figure is set.
    assert "5.000 lượt" in await staff.send("/chitieu AP-MY-PHU dvc 2026 5000")
    assert "368 hộ" in await staff.send("/chitieu AP-MY-PHU thanh toán 2026 368")


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
