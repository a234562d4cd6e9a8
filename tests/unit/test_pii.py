"""The resident-data detector: ID and phone numbers in staff free text, and what is not one."""

from __future__ import annotations

import pytest

from bot.domain import pii


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("ba Nguyen Thi Lan CCCD 001203004567 sdt 0912345678", pii.ID_NUMBER),
        ("Bà Lan, căn cước 001 203 004 567", pii.ID_NUMBER),
        ("hủy vì trùng hộ 001.203.004.567", pii.ID_NUMBER),
        ("hộ ông Ba 079-085-012345", pii.ID_NUMBER),
        ("số định danh cá nhân 038195001234", pii.ID_NUMBER),
        ("CMND 212345678 của ông Tư", pii.ID_NUMBER),
        ("ông Tư 212 345 678", pii.ID_NUMBER),
        ("CCCD: 123456789012", pii.ID_NUMBER),  # after the word, any 12 digits
        ("cmnd số 999888777", pii.ID_NUMBER),
        ("gọi chị Hoa 0912345678", pii.PHONE),
        ("0912 345 678 nhờ cài VNeID", pii.PHONE),
        ("LH 0912.345.678", pii.PHONE),
        ("sđt: 098-765-4321", pii.PHONE),
        ("(+84) 912 345 678", pii.PHONE),
        ("+84912345678", pii.PHONE),
        ("84 912 345 678 gọi lại", pii.PHONE),
        ("số máy bàn 024 3825 1234", pii.PHONE),
        ("zalo 912345678", pii.PHONE),  # the leading 0 left out
        ("SĐT0912345678", pii.PHONE),
        ("０９１２３４５６７８", pii.PHONE),  # full-width digits
        ("0912\u200b345\u2060678", pii.PHONE),  # invisible characters between the digits
        ("vneid 5 0912345678", pii.PHONE),
    ],
)
def test_resident_data_is_found(text: str, kind: str):
    finding = pii.find(text)
    assert finding is not None and finding.kind == kind, text


@pytest.mark.parametrize(
    "text",
    [
        "gõ nhầm, đúng là 5",
        "Hạn nộp báo cáo 15/11/2026",
        "Họp lúc 08:00 ngày 15.11.2026",
        "ngày 15-11-2026",
        "Chiến dịch VNeID 2026",
        "Kế hoạch 2025-2026",
        "năm 2024 2025 2026",
        "Thôn có 1.200 hộ, 3.450 người",
        "trùng với #123 và #4567",
        "báo cáo 123456 trùng",
        "VNeID: 12; CKS: 4; TTKDTM: 6",
        "Hỗ trợ 250.000.000 đồng cho tổ",
        "kinh phí 120.000.000",
        "150000000 đ",
        "Tổng đài 1900 1234 hoặc 1800.1234",
        "hotline 1900 123 456",
        "Quyết định số 123/QĐ-UBND ngày 15/11/2026",
        "Mã hồ sơ H42.24-241115-0001",
        "Thôn 1: 120 hộ, thôn 2: 95 hộ, thôn 3: 87 hộ",
        "Ấp Mỹ Thạnh 2",
        "tổ 12 khu phố 3",
        "tỉ lệ 80% hộ, 1.234.567 lượt",
        "id 1234567890",
        "",
    ],
)
def test_ordinary_text_is_not_flagged(text: str):
    assert pii.find(text) is None, text


def test_redact_removes_the_numbers_and_keeps_the_rest():
    assert pii.redact("Lan 0912 345 678") == "Lan"
    assert pii.redact("Lan Nguyễn") == "Lan Nguyễn"
    assert pii.redact("0912345678") == ""
    assert pii.redact("Tư CMND 212345678 ấp 3") == "Tư CMND ấp 3"


def test_a_lone_surrogate_does_not_break_the_detector():
    assert pii.find("sdt 0912345678\ud800") is not None
    assert pii.find("bình thường\udcff") is None
