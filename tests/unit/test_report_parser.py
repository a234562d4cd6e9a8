"""The free-text report parser, on lines typed the way village teams type them."""

from __future__ import annotations

import dataclasses
import random
from datetime import date

import pytest
from pydantic import ValidationError
from support.parsing import CATALOGUE, LEXICON, MAX, TODAY, YESTERDAY, C, D, K, S, T, V, parse

from bot.content import load_content
from bot.domain.catalogue import Catalogue
from bot.domain.report_parser import (
    ISSUE_CODES,
    ParsedItem,
    ParseIssue,
    ParseResult,
    ParserLexicon,
    parse_report,
)

# (text, expected items, expected date, expected issue codes)
CASES: list[tuple[str, dict[str, int], date | None, list[str]]] = [
    # --- the examples of the brief
    ("vneid 5 cks 2", {V: 5, C: 2}, None, []),
    ("VNeID: 12; CKS: 4; TTKDTM: 6", {V: 12, C: 4, T: 6}, None, []),
    ("hôm qua hỗ trợ 7 hộ kích hoạt VNeID và 3 hộ cài chữ ký số", {V: 7, C: 3}, YESTERDAY, []),
    ("15/11 thanh toán 3", {T: 3}, date(2026, 11, 15), []),
    ("hom qua vneid 3, ssk 2", {V: 3, S: 2}, YESTERDAY, []),
    ("cks 2 vneid5", {C: 2, V: 5}, None, []),
    ("Thôn 5 vneid 4", {V: 4}, None, []),
    ("đã hướng dẫn 4 hộ cài SmartCA", {C: 4}, None, []),
    ("ho tro 6 ho dvc", {D: 6}, None, []),
    # --- separators, glue, case
    ("VNEID 5 CKS 2", {V: 5, C: 2}, None, []),
    ("vneid5 cks2", {V: 5, C: 2}, None, []),
    ("VNEID3CKS2", {V: 3, C: 2}, None, []),
    ("vneid:3,cks:2", {V: 3, C: 2}, None, []),
    ("vneid=5", {V: 5}, None, []),
    ("vneid = 5 ; cks = 1", {V: 5, C: 1}, None, []),
    ("VNeID : 3 , CKS : 1", {V: 3, C: 1}, None, []),
    ("vneid - 4", {V: 4}, None, []),
    ("vneid +5", {V: 5}, None, []),
    ("vneid 2 + cks 3", {V: 2, C: 3}, None, []),
    ("vneid 3.cks 2", {V: 3, C: 2}, None, []),
    ("Vneid 10 hộ. Cks 5 hộ.", {V: 10, C: 5}, None, []),
    ("vneid 5\ncks 2\nssk 1", {V: 5, C: 2, S: 1}, None, []),
    ("- VNeID: 5 hộ\n- CKS: 2 hộ", {V: 5, C: 2}, None, []),
    ("1. VNeID: 5\n2. CKS: 3", {V: 5, C: 3}, None, []),
    ("1.vneid 5", {V: 5}, None, []),
    ("1) vneid 5 2) cks 3", {V: 5, C: 3}, None, []),
    ("vneid  10 ho   cks  5ho", {V: 10, C: 5}, None, []),
    ("vneid 3ho cks 2ho", {V: 3, C: 2}, None, []),
    ("vneid (5 hộ)", {V: 5}, None, []),
    ("vneid x5", {V: 5}, None, []),
    ("vneid 05", {V: 5}, None, []),
    ("<b>vneid</b> 5", {V: 5}, None, []),
    ("vneid 5 👍 cks 2 🙏", {V: 5, C: 2}, None, []),
    ("vneid\u00a05", {V: 5}, None, []),
    ("vne\u200bid 5", {V: 5}, None, []),
    # --- order: number before service
    ("5 vneid 2 cks", {V: 5, C: 2}, None, []),
    ("5 vneid", {V: 5}, None, []),
    ("5hộ vneid", {V: 5}, None, []),
    ("5 hộ vneid, 2 hộ cks", {V: 5, C: 2}, None, []),
    ("kich hoat vneid cho 5 ho, cai cks cho 2 ho", {V: 5, C: 2}, None, []),
    ("cài smartca cho 2 hộ", {C: 2}, None, []),
    ("hỗ trợ 12 hộ đăng ký dịch vụ công", {D: 12}, None, []),
    ("hd cai vneid 5 ho; ssk 3 ho", {V: 5, S: 3}, None, []),
    ("7 ho kich hoat vneid 3 ho cai cks", {V: 7, C: 3}, None, []),
    ("tôi hỗ trợ vneid cho 3 hộ ở thôn 2", {V: 3}, None, []),
    ("Dạ em báo cáo: vneid 5 hộ, cks 2 hộ ạ", {V: 5, C: 2}, None, []),
    # --- ambiguous order: documented tie-breaks
    ("3 vneid 5", {V: 5}, None, []),  # tie: forward wins
    ("5 ho vneid 3", {V: 5}, None, []),  # "5 hộ" right before the service wins the tie
    ("di 2 thon vneid 5", {V: 5}, None, []),  # 5 is closer than 2
    ("hôm nay đi 2 thôn, vneid 5", {V: 5}, TODAY, []),  # 2 is in another part
    ("vneid 3 4 cks", {}, None, ["missing_count"]),
    ("vneid 3 vneid 2", {V: 5}, None, []),  # named twice: added
    ("vneid 3, cks 2, vneid 1", {V: 4, C: 2}, None, []),
    ("5 ho, vneid 3", {V: 3}, None, []),  # the lone 5 is in its own part
    ("CKS 3 hộ (VNPT SmartCA)", {C: 3}, None, []),  # repeated mention of a paired service
    ("hướng dẫn cài VNeID (định danh điện tử) 5 hộ", {V: 5}, None, []),
    ("vneid 5 hộ trong đó 2 hộ mức 2", {V: 5}, None, []),
    ("cks 3 hộ, vneid 2 hộ, tổng 5 hộ", {C: 3, V: 2}, None, []),
    (
        "vneid: 5, chữ ký số: 3, thanh toán: 2, dvc: 1, sổ sức khỏe: 4, kỹ năng số: 6",
        {V: 5, C: 3, T: 2, D: 1, S: 4, K: 6},
        None,
        [],
    ),
    # --- aliases, abbreviations, diacritics, variants
    ("ttkdtm 6", {T: 6}, None, []),
    ("ttktm 2", {T: 2}, None, []),
    ("thanh toan khong dung tien mat 4", {T: 4}, None, []),
    ("ko dung tien mat 2", {T: 2}, None, []),
    ("k dùng tiền mặt 2", {T: 2}, None, []),
    ("tk ngân hàng 3", {T: 3}, None, []),
    ("mo tai khoan 2 ho", {T: 2}, None, []),
    ("quét qr 4", {T: 4}, None, []),
    ("qr 4", {T: 4}, None, []),
    ("ví điện tử 2", {T: 2}, None, []),
    ("dvc 3", {D: 3}, None, []),
    ("dvctt 2", {D: 2}, None, []),
    ("nộp hồ sơ trực tuyến 2", {D: 2}, None, []),
    ("dich vu cong truc tuyen 7", {D: 7}, None, []),
    ("ssk 3 hộ", {S: 3}, None, []),
    ("sskdt 3", {S: 3}, None, []),
    ("sổ sk 2", {S: 2}, None, []),
    ("sổ sức khoẻ 4 sổ sức khỏe điện tử 1", {S: 5}, None, []),
    ("so suc khoe 2", {S: 2}, None, []),
    ("kns 3", {K: 3}, None, []),
    ("bdhvs 12 kns 3", {K: 15}, None, []),
    ("bình dân học vụ số 12", {K: 12}, None, []),
    ("kĩ năng số 10", {K: 10}, None, []),
    ("ky nang so 10", {K: 10}, None, []),
    ("chu ki so 3", {C: 3}, None, []),
    ("chữ kí số 3", {C: 3}, None, []),
    ("CHỮ KÝ SỐ 3", {C: 3}, None, []),
    ("smart ca 2", {C: 2}, None, []),
    ("vnpt smartca 2", {C: 2}, None, []),
    ("định danh 5", {V: 5}, None, []),
    ("dinh danh dien tu 4", {V: 4}, None, []),
    ("căn cước điện tử 2", {V: 2}, None, []),
    ("ddđt 3", {V: 3}, None, []),
    ("vn-eid 3", {V: 3}, None, []),
    ("VN EID 4 hộ", {V: 4}, None, []),
    ("vnid 4", {V: 4}, None, []),
    ("vneid 5 cks 2 ttkdtm 1 dvc 3 ssk 4 kns 6", {V: 5, C: 2, T: 1, D: 3, S: 4, K: 6}, None, []),
    ("vneid 7 người", {V: 7}, None, []),
    ("vneid 3 luot", {V: 3}, None, []),
    # --- whole words only
    ("qrcode 5", {}, None, []),
    ("asskd 5", {}, None, []),
    ("ssk5", {S: 5}, None, []),
    # --- dates and relative days
    ("hq vneid3 cks2", {V: 3, C: 2}, YESTERDAY, []),
    ("HQ: VNEID 3", {V: 3}, YESTERDAY, []),
    ("hqua vneid 2", {V: 2}, YESTERDAY, []),
    ("hum wa vneid 2", {V: 2}, YESTERDAY, []),
    ("vneid 2 hom qua", {V: 2}, YESTERDAY, []),
    ("hôm nay vneid 3", {V: 3}, TODAY, []),
    ("hnay cks 1", {C: 1}, TODAY, []),
    ("hôm kia vneid 2", {V: 2}, date(2026, 11, 20), []),
    ("15/11/2026 vneid 3", {V: 3}, date(2026, 11, 15), []),
    ("15/11/26 vneid 3", {V: 3}, date(2026, 11, 15), []),
    ("15-11 vneid 3", {V: 3}, date(2026, 11, 15), []),
    ("15.11 vneid 3", {V: 3}, date(2026, 11, 15), []),
    ("15.11.2026 vneid 3", {V: 3}, date(2026, 11, 15), []),
    ("20/11/2025 vneid 3", {V: 3}, date(2025, 11, 20), []),
    ("1/1 vneid 2", {V: 2}, date(2026, 1, 1), []),
    ("31/12 vneid 3", {V: 3}, date(2025, 12, 31), []),  # far in the future: last year
    ("Báo cáo ngày 20/11: VNeID 5 hộ, CKS 3 hộ", {V: 5, C: 3}, date(2026, 11, 20), []),
    ("vneid 5 ngay 20/11", {V: 5}, date(2026, 11, 20), []),
    ("vneid 5 cks 2 ngày 15.11", {V: 5, C: 2}, date(2026, 11, 15), []),
    ("ngày 20 vneid 3", {V: 3}, date(2026, 11, 20), []),
    ("ngay 25 vneid 3", {V: 3}, date(2026, 10, 25), []),  # after today's day: last month
    ("22/11 vneid 1", {V: 1}, TODAY, []),
    # --- numbers that are names, not counts
    ("Ấp 3 vneid 2", {V: 2}, None, []),
    ("ấp 3 tổ 4 vneid 2", {V: 2}, None, []),
    ("tổ 7 dvc 2", {D: 2}, None, []),
    ("tdp 3 vneid 2", {V: 2}, None, []),
    ("khu phố 4 cks 1", {C: 1}, None, []),
    ("xóm 2: vneid 6", {V: 6}, None, []),
    ("bản 3 vneid 4 hộ", {V: 4}, None, []),
    ("thôn số 5 vneid 4", {V: 4}, None, []),
    ("vneid 12 hộ thôn 3 ấp 4", {V: 12}, None, []),
    ("vneid 5 ho thon 3", {V: 5}, None, []),
    ("mức độ 2 dvc 3", {D: 3}, None, []),
    ("dvc muc do 4: 3 ho", {D: 3}, None, []),
    ("dvc 3 mức độ 4", {D: 3}, None, []),
    ("vneid mức 2: 5 hộ", {V: 5}, None, []),
    ("vneid muc do 2 5 ho", {V: 5}, None, []),
    ("level 2 vneid 3", {V: 3}, None, []),
    ("cấp 2 vneid 3", {V: 3}, None, []),
    ("lần 2 vneid 3", {V: 3}, None, []),
    ("vneid 3 lan 2", {V: 3}, None, []),
    ("số nhà 12 vneid 1", {V: 1}, None, []),
    ("lớp 9 kns 20", {K: 20}, None, []),
    ("tháng 11 vneid 30", {V: 30}, None, []),
    ("thôn 3: vneid 4, cks 2; thôn 4: vneid 1", {V: 5, C: 2}, None, []),
    # --- phones, times, years, money, percentages
    ("Ấp 3 vneid 2 sdt 0912 345 678", {V: 2}, None, []),
    ("vneid 5 sdt 0912345678", {V: 5}, None, []),
    ("vneid 3 ho (sdt 0987.654.321)", {V: 3}, None, []),
    ("vneid 3 sdt +84 912 345 678", {V: 3}, None, []),
    ("0912 34 56 78 vneid 2", {V: 2}, None, []),
    ("lúc 8h30 vneid 4", {V: 4}, None, []),
    ("14:30 cks 2", {C: 2}, None, []),
    ("vneid 3 hộ, họp lúc 8h", {V: 3}, None, []),
    ("vneid 3, cks 2, 8g30 họp", {V: 3, C: 2}, None, []),
    ("vneid 2 luc 14:30", {V: 2}, None, []),
    ("vneid 4 trong 2 giờ", {V: 4}, None, []),
    ("năm 2026 vneid 3", {V: 3}, None, []),
    ("2026 vneid 3", {V: 3}, None, []),
    ("thanh toan 3 ho 50k", {T: 3}, None, []),
    # --- invalid counts: nothing is recorded
    ("vneid -3", {}, None, ["negative"]),
    ("vneid: -3", {}, None, ["negative"]),
    ("vneid -2.5", {}, None, ["negative"]),
    ("vneid 0", {}, None, ["zero"]),
    ("cks 2 dvc 0", {}, None, ["zero"]),
    ("0 vneid", {}, None, ["zero"]),
    ("vneid 2.5", {}, None, ["fraction"]),
    ("vneid 2,5", {}, None, ["fraction"]),
    ("2,5 hộ vneid", {}, None, ["fraction"]),
    ("2.5 hộ vneid", {}, None, ["fraction"]),
    ("vneid 9999", {}, None, ["too_large"]),
    ("vneid 501", {}, None, ["too_large"]),
    ("vneid 500", {V: 500}, None, []),
    ("vneid 1.000", {}, None, ["too_large"]),
    ("vneid 5 cks 800", {}, None, ["too_large"]),
    ("vneid", {}, None, ["missing_count"]),
    ("vneid vneid", {}, None, ["missing_count"]),
    ("vneid 3, vneid", {}, None, ["missing_count"]),  # the second part has no number
    ("vneid 3 cks", {}, None, ["missing_count"]),
    ("cks 3 vneid", {}, None, ["missing_count"]),
    ("Thôn 5 vneid", {}, None, ["missing_count"]),
    ("dvc muc 4", {}, None, ["missing_count"]),
    ("vneid 0912 345 678", {}, None, ["missing_count"]),
    ("vneid 123456789012", {}, None, ["too_large"]),  # a digit run where a count stands is too large
    ("vneid 50%", {}, None, ["missing_count"]),
    ("thanh toan 50k", {}, None, ["missing_count"]),
    ("vneid -3 cks 0", {}, None, ["negative", "zero"]),
    # --- impossible or future dates
    ("31/02 vneid 3", {}, None, ["bad_date"]),
    ("29/02 vneid 2", {}, None, ["bad_date"]),
    ("00/11 vneid 2", {}, None, ["bad_date"]),
    ("15/13 vneid 2", {}, None, ["bad_date"]),
    ("ngày 31 vneid 2", {V: 2}, date(2026, 10, 31), []),
    ("25/11 vneid 3", {}, None, ["future_date"]),
    ("23/11/2026 vneid 3", {}, None, ["future_date"]),
    ("1/1/2027 vneid 3", {}, None, ["future_date"]),
    ("31/02 vneid 0", {}, None, ["bad_date", "zero"]),
    ("31/02", {}, None, ["bad_date"]),  # a day typed alone is still checked
    ("30/11", {}, None, ["future_date"]),
    ("hôm kia", {}, date(2026, 11, 20), []),
    ("vneid 3 ngày mai", {}, None, ["tomorrow"]),  # planned work is not reported yet
    ("chieu mai ho tro cks 4 ho", {}, None, ["tomorrow"]),
    ("giúp chị Mai cài vneid 3", {V: 3}, None, []),  # a name, not "tomorrow"
    ("20/11", {}, date(2026, 11, 20), []),
    # --- explicit none next to a service
    ("không có vneid 3", {V: 3}, None, []),
    ("vneid 5 cks không", {V: 5}, None, []),
    ("vneid khong co, cks 2", {C: 2}, None, []),
    ("vneid 5, cks chua co", {V: 5}, None, []),
    # --- not reports
    ("chào anh", {}, None, []),
    ("Chào chị, em là tổ trưởng thôn 3", {}, None, []),
    ("hello", {}, None, []),
    ("ok", {}, None, []),
    ("cảm ơn", {}, None, []),
    ("???", {}, None, []),
    ("🙂🙂🙂", {}, None, []),
    ("<b>hi</b>", {}, None, []),
    ("<script>alert(1)</script>", {}, None, []),
    ("hỗ trợ 5 hộ", {}, None, []),
    ("0912345678", {}, None, []),
    ("5k", {}, None, []),
    ("", {}, None, []),
    ("   ", {}, None, []),
    ("3 ho chua cai vneid", {}, None, []),
    ("hôm qua", {}, YESTERDAY, []),
]


@pytest.mark.parametrize(("text", "items", "day", "codes"), CASES, ids=[repr(c[0])[:60] for c in CASES])
def test_parse_table(text: str, items: dict[str, int], day: date | None, codes: list[str]) -> None:
    result = parse(text)
    assert {item.service: item.count for item in result.items} == items
    assert len(result.items) == len(items)  # each service once
    assert result.date == day
    assert [issue.code for issue in result.issues] == codes
    assert result.is_report == (bool(items) and not codes)
    if codes:
        assert result.items == ()
        assert not result.nothing


def test_case_count() -> None:
    assert len(CASES) >= 120


def test_invisible_characters_never_change_the_reading() -> None:
    """Every line of the parser table reads the same with invisible characters sprinkled in."""
    rng = random.Random(11)
    # zero-width space, non-joiner and joiner, word joiner, soft hyphen, BOM, LRM, VS16, and more
    invisible = ["\u200b", "\u200c", "\u200d", "\u2060", "\u00ad", "\ufeff", "\u200e", "\ufe0f", "\u2061",
                 "\u180e", "\ufe00", "\U000e0041", "\x00"]
    for text, *_ in CASES:
        chars = list(text)
        for _ in range(rng.randint(1, 4)):
            chars.insert(rng.randint(0, len(chars)), rng.choice(invisible))
        noisy = "".join(chars)
        assert parse(noisy) == parse(text), ascii(noisy)


NOTHING = [
    ("không có", True),
    ("Không có.", True),
    ("khong co", True),
    ("ko co", True),
    ("k co", True),
    ("ko co ho nao", True),
    ("không có hộ nào", True),
    ("0 hộ", True),
    ("0", True),
    ("không", False),  # a bare "no" answers some question: it is not a report
    ("ko", False),
    ("k", False),
    ("vneid không", True),  # next to a service it is
    ("tuần này không có", True),
    ("khong co ho nao can ho tro", True),
    ("hom nay khong co ho nao can ho tro a", True),
    ("Dạ tuần này thôn em không có ai ạ", True),
    ("thôn 5 không có", True),
    ("thôn 5: 0 hộ", True),
    ("chưa phát sinh", True),
    ("khong co vneid", True),  # every service named is explicitly none
    ("không có vneid 3", False),
    ("không có mạng", False),
    ("không biết", False),
    ("chào anh", False),
    ("vneid 0", False),
    ("0 vneid", False),
    ("vneid 5 cks không", False),
    ("3 ho chua cai vneid", False),
    ("hỗ trợ 5 hộ", False),
    ("5k", False),
    ("31/02 không có", False),  # bad date
]


@pytest.mark.parametrize(("text", "nothing"), NOTHING)
def test_nothing(text: str, nothing: bool) -> None:
    result = parse(text)
    assert result.nothing is nothing
    if nothing:
        assert result.items == () and result.issues == () and not result.is_report


def test_nothing_keeps_the_date() -> None:
    result = parse("hôm qua không có")
    assert result.nothing and result.date == YESTERDAY
    result = parse("15/11 khong co ho nao")
    assert result.nothing and result.date == date(2026, 11, 15)


def test_issue_details() -> None:
    assert parse("vneid -3").issues == (ParseIssue("negative", V, "-3"),)
    assert parse("cks 0").issues == (ParseIssue("zero", C, "0"),)
    assert parse("vneid 2,5").issues == (ParseIssue("fraction", V, "2,5"),)
    assert parse("VNeID 9999").issues == (ParseIssue("too_large", V, "9999"),)
    assert parse("vneid 3 ssk").issues == (ParseIssue("missing_count", S, None),)
    assert parse("31/02 vneid 3").issues == (ParseIssue("bad_date", None, "31/02"),)
    assert parse("25/11 vneid 3").issues == (ParseIssue("future_date", None, "25/11"),)


def test_same_issue_is_reported_once() -> None:
    assert parse("vneid 0 vneid 0").issues == (ParseIssue("zero", V, "0"),)


def test_max_count_is_a_parameter() -> None:
    assert parse("vneid 600", max_count=1000).items == (ParsedItem(V, 600),)
    assert [i.code for i in parse("vneid 6", max_count=5).issues] == ["too_large"]


def test_items_in_order_of_first_appearance() -> None:
    result = parse("ssk 1, vneid 2, cks 3, ssk 4")
    assert result.items == (ParsedItem(S, 5), ParsedItem(V, 2), ParsedItem(C, 3))


def test_date_rollover_at_new_year() -> None:
    jan = date(2027, 1, 5)
    assert parse("28/12 vneid 2", today=jan).date == date(2026, 12, 28)
    assert parse("hôm qua vneid 2", today=jan).date == date(2027, 1, 4)
    assert parse("ngày 30 vneid 2", today=jan).date == date(2026, 12, 30)
    assert [i.code for i in parse("10/01 vneid 2", today=jan).issues] == ["future_date"]


def test_result_types_are_frozen() -> None:
    result = parse("vneid 5")
    assert isinstance(result, ParseResult)
    assert result.items == (ParsedItem("vneid", 5),)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.items[0].count = 6  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.nothing = True  # type: ignore[misc]


def test_pure_and_repeatable() -> None:
    first = parse("hom qua vneid 3, ssk 2")
    assert parse("hom qua vneid 3, ssk 2") == first
    assert parse("hom qua vneid 3, ssk 2", today=date(2026, 3, 2)).date == date(2026, 3, 1)


def test_lexicon_forbids_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        ParserLexicon.model_validate({"todays": ["hôm nay"]})
    with pytest.raises(ValidationError):
        ParserLexicon.model_validate({"variants": {"ko": "không có"}})  # one word each side
    with pytest.raises(ValidationError):
        ParserLexicon.model_validate({"filler_words": ["!!"]})


def test_works_with_another_catalogue_and_lexicon() -> None:
    catalogue = Catalogue.model_validate(
        {"services": [{"code": "zalo", "label": "Zalo", "short": "Zalo", "aliases": ["zalo", "za lô"]}]}
    )
    lexicon = ParserLexicon.model_validate({"unit_words": ["thôn"], "household_words": ["hộ"]})
    result = parse_report("thôn 4 Za Lô 3 hộ", today=TODAY, catalogue=catalogue, lexicon=lexicon, max_count=9)
    assert result.items == (ParsedItem("zalo", 3),)
    # The real catalogue still parses with the real lexicon afterwards (per-catalogue cache).
    assert parse("vneid 5").items == (ParsedItem(V, 5),)


def test_long_and_hostile_input_is_read_safely() -> None:
    """Long, repetitive or odd input gets an answer (bench/parse.py times these lines)."""
    texts = [
        "vneid 5 " * 2000,
        "1" * 10_000,
        "a" * 10_000,
        "1 " * 5000 + "vneid",
        "-1.1/1:1 " * 2000,
        "🙂" * 10_000,
        "0912 345 678 " * 1000,
        "<b>" * 3000,
    ]
    for text in texts:
        result = parse(text)
        assert not (result.items and result.issues), text[:20]
        assert all(1 <= item.count <= MAX for item in result.items), text[:20]
    # Only the first 1000 characters are read: 125 times "vneid 5 ".
    assert parse("vneid 5 " * 2000, max_count=10_000).items == (ParsedItem(V, 5 * 125),)


def test_total_above_max_count_is_too_large() -> None:
    assert parse("vneid 300, vneid 300").issues == (ParseIssue("too_large", V, "600"),)
    assert parse("vneid 250, vneid 250").items == (ParsedItem(V, 500),)


def test_random_junk_never_crashes() -> None:
    rng = random.Random(7)
    pieces = [*"0123456789 ./-,:;=+%hg\n", "vneid", "cks", "thôn", "ngày", "hộ", "không", "k", "+84", "٣", "５", "Đ"]
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        result = parse(text)
        assert not (result.items and result.issues)
        assert not (result.nothing and (result.items or result.issues))
        assert all(1 <= item.count <= MAX for item in result.items)
        assert {issue.code for issue in result.issues} <= set(ISSUE_CODES)


def test_every_error_code_has_its_vietnamese_text() -> None:
    texts = load_content().texts
    missing = [code for code in ISSUE_CODES if f"parse_errors.{code}" not in texts]
    assert not missing, f"content/texts.yaml has no parse_errors text for {missing}"


def test_the_quick_reading_of_service_count_lines_agrees_with_the_general_one() -> None:
    """The commonest lines (``vneid 5 cks 12``) skip the general machinery (report_parser._quick):
    on every line of the tables and on lines made near that shape, both readings agree."""
    def both(text: str) -> tuple[ParseResult, ParseResult]:
        return tuple(parse_report(text, today=TODAY, catalogue=CATALOGUE, lexicon=LEXICON, max_count=MAX,
                                  quick=quick) for quick in (True, False))  # type: ignore[return-value]

    for text, *_ in CASES:
        quick, general = both(text)
        assert quick == general, text
    aliases = sorted(alias for service in CATALOGUE.services for alias in (*service.aliases, service.code))
    words = [*aliases, "ho", "hộ", "thon", "ngày", "không", "ko", "va", "hom", "qua", "năm", "ba", "CKS", "VNeID",
             "vne\u2060id", "chu", "ky", "so", "Đ", "k"]
    numbers = ["0", "00", "05", "1", "7", "12", "99", "250", "499", "500", "501", "999", "1000", "2026", "123456789",
               "５", "1e9", "-3", "2,5", "15/11", "3.5"]
    spaces = [" ", " ", " ", "  ", "\t", "\n", " ; ", ", ", ":", "\u00a0", "\u202e", ""]
    rng = random.Random(11)
    quick_lines = 0
    for _ in range(4000):
        parts: list[str] = []
        for _ in range(rng.randint(1, 4)):
            parts += [rng.choice(aliases if rng.random() < 0.8 else words), rng.choice(spaces[:3] * 6 + spaces),
                      rng.choice(numbers[4:10] if rng.random() < 0.8 else numbers), rng.choice(spaces[:3] * 6 + spaces)]
        text = "".join(parts[:-1]) if rng.random() < 0.9 else "".join(parts)
        quick, general = both(text)
        assert quick == general, text
        quick_lines += general.is_report and not general.date
    assert quick_lines > 1000  # the shape the quick reading takes came up often enough
