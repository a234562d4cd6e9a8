"""Lines as people type and voice-type them: number words and several days in one line
(issue 16, item 7). Each case is (line, expected items as (service, count, day or None))."""

from __future__ import annotations

import datetime

import pytest

from bot.content import load_content
from bot.domain.report_parser import parse_report

CONTENT = load_content()
TODAY = datetime.date(2026, 12, 2)  # a Wednesday
Y, T, K = TODAY - datetime.timedelta(days=1), TODAY, TODAY - datetime.timedelta(days=2)  # yesterday, today, hôm kia


def parse(line: str):
    return parse_report(line, today=TODAY, catalogue=CONTENT.catalogue, lexicon=CONTENT.lexicon, max_count=500)


def items(line: str) -> list[tuple[str, int, datetime.date | None]]:
    result = parse(line)
    assert not result.issues, (line, result.issues)
    return [(it.service, it.count, it.date) for it in result.items]


NUMBER_WORDS = [
    ("ssk ba ho", [("so_suc_khoe", 3, None)]),
    ("ssk ba hộ", [("so_suc_khoe", 3, None)]),
    ("vneid năm", [("vneid", 5, None)]),
    ("vneid nam ho", [("vneid", 5, None)]),
    ("năm hộ vneid", [("vneid", 5, None)]),
    ("hai mươi lăm hộ cài định danh", [("vneid", 25, None)]),
    ("hai muoi lam ho cai dinh danh", [("vneid", 25, None)]),
    ("giúp bảy hộ mở tài khoản", [("thanh_toan", 7, None)]),
    ("giup bay ho mo tai khoan", [("thanh_toan", 7, None)]),
    ("giúp bẩy hộ mở tài khoản ngân hàng", [("thanh_toan", 7, None)]),
    ("mười hộ vneid", [("vneid", 10, None)]),
    ("muoi ho cks", [("chu_ky_so", 10, None)]),
    ("mười một hộ ssk", [("so_suc_khoe", 11, None)]),
    ("mười lăm hộ cks", [("chu_ky_so", 15, None)]),
    ("mười nhăm hộ dvc", [("dich_vu_cong", 15, None)]),
    ("mười tư hộ vneid", [("vneid", 14, None)]),
    ("hai mươi hộ vneid", [("vneid", 20, None)]),
    ("hai mươi mốt người vneid", [("vneid", 21, None)]),
    ("ba mươi tư hộ thanh toán", [("thanh_toan", 34, None)]),
    ("chín mươi chín hộ vneid", [("vneid", 99, None)]),
    ("một trăm hộ vneid", [("vneid", 100, None)]),
    ("một trăm linh năm hộ vneid", [("vneid", 105, None)]),
    ("mot tram le hai ho cks", [("chu_ky_so", 102, None)]),
    ("hai trăm ba mươi hộ vneid", [("vneid", 230, None)]),
    ("vneid một", [("vneid", 1, None)]),
    ("một hộ cks", [("chu_ky_so", 1, None)]),
    ("vneid hai cks ba", [("vneid", 2, None), ("chu_ky_so", 3, None)]),
    ("vneid: bốn", [("vneid", 4, None)]),
    ("cks sáu hộ", [("chu_ky_so", 6, None)]),
    ("tám hộ sổ sức khỏe", [("so_suc_khoe", 8, None)]),
    ("chín người kỹ năng số", [("ky_nang_so", 9, None)]),
    ("năm hộ vneid hai hộ cks", [("vneid", 5, None), ("chu_ky_so", 2, None)]),
    ("kích hoạt tài khoản vneid bốn hộ", [("vneid", 4, None)]),
    ("hướng dẫn hai bà con cài vneid", [("vneid", 2, None)]),
    ("em giúp ba hộ dịch vụ công ạ", [("dich_vu_cong", 3, None)]),
    # Not numbers where they cannot be counts
    ("chị Ba vneid 2", [("vneid", 2, None)]),
    ("năm nay vneid 3", [("vneid", 3, T)]),
    ("vneid 5 năm 2026", [("vneid", 5, None)]),
    ("vneid 2 sau đó cks 3", [("vneid", 2, None), ("chu_ky_so", 3, None)]),
    ("một số hộ vneid 3", [("vneid", 3, None)]),
    ("thôn ba vneid 4", [("vneid", 4, None)]),
    ("vneid 5 hai mươi lăm hộ", [("vneid", 5, None)]),
]


@pytest.mark.parametrize(("line", "expected"), NUMBER_WORDS, ids=[line for line, _ in NUMBER_WORDS])
def test_number_words_are_counts_next_to_a_service_or_a_household_word(line, expected):
    assert items(line) == expected


SEVERAL_DAYS = [
    ("hom qua vneid 3 hom nay cks 2", [("vneid", 3, Y), ("chu_ky_so", 2, T)]),
    ("hôm qua vneid 3, hôm nay cks 2", [("vneid", 3, Y), ("chu_ky_so", 2, T)]),
    ("hôm kia ssk 1 hôm qua ssk 2 hôm nay ssk 3",
     [("so_suc_khoe", 1, K), ("so_suc_khoe", 2, Y), ("so_suc_khoe", 3, T)]),
    ("30/11 vneid 5, 1/12 vneid 3",
     [("vneid", 5, datetime.date(2026, 11, 30)), ("vneid", 3, datetime.date(2026, 12, 1))]),
    ("ngày 28 cks 2 ngày 30 cks 4", [("chu_ky_so", 2, datetime.date(2026, 11, 28)),
                                     ("chu_ky_so", 4, datetime.date(2026, 11, 30))]),
    ("vneid 3 hôm qua, cks 2 hôm nay", [("vneid", 3, Y), ("chu_ky_so", 2, T)]),
    ("vneid 3 hôm qua cks 2 hôm nay", [("vneid", 3, Y), ("chu_ky_so", 2, T)]),
    ("hôm qua vneid 3 cks 1 hôm nay tt 2", [("vneid", 3, Y), ("chu_ky_so", 1, Y), ("thanh_toan", 2, T)]),
    ("hôm qua vneid 3 hôm nay vneid 2", [("vneid", 3, Y), ("vneid", 2, T)]),
    ("hôm qua vneid 3 vneid 2", [("vneid", 5, Y)]),  # one day: named twice, added up
    ("vneid 3 cks 2 hôm qua", [("vneid", 3, Y), ("chu_ky_so", 2, Y)]),
    ("hôm qua ba hộ vneid hôm nay hai hộ cks", [("vneid", 3, Y), ("chu_ky_so", 2, T)]),
    ("sáng qua vneid 2 chiều nay cks 1", [("vneid", 2, Y), ("chu_ky_so", 1, T)]),
    ("hq vneid 4 hn ssk 1", [("vneid", 4, Y), ("so_suc_khoe", 1, T)]),
    ("hom kia dvc 2; hom qua dvc 1", [("dich_vu_cong", 2, K), ("dich_vu_cong", 1, Y)]),
    ("1/12: vneid 2\n2/12: vneid 1",
     [("vneid", 2, datetime.date(2026, 12, 1)), ("vneid", 1, datetime.date(2026, 12, 2))]),
    ("vneid 2", [("vneid", 2, None)]),
    ("hôm qua vneid 2", [("vneid", 2, Y)]),
    ("vneid 2 hôm qua", [("vneid", 2, Y)]),
    ("hôm qua giúp năm hộ vneid, hôm nay mười hộ thanh toán", [("vneid", 5, Y), ("thanh_toan", 10, T)]),
]


@pytest.mark.parametrize(("line", "expected"), SEVERAL_DAYS, ids=[line for line, _ in SEVERAL_DAYS])
def test_each_day_named_applies_to_what_follows_it(line, expected):
    assert items(line) == expected


def test_the_line_still_says_its_first_day_and_a_wrong_day_anywhere_is_an_error():
    assert parse("hom qua vneid 3 hom nay cks 2").date == Y
    wrong = parse("hôm qua vneid 3, 31/02 cks 2")
    assert wrong.items == () and [i.code for i in wrong.issues] == ["bad_date"]
    assert [i.code for i in parse("hôm nay vneid 2 ngày mai cks 1").issues] == ["tomorrow"]


def test_sixty_realistic_lines_at_least():
    assert len(NUMBER_WORDS) + len(SEVERAL_DAYS) >= 60


def test_a_day_named_after_a_service_starts_a_new_statement():
    assert items("hom qua vneid 3 hom nay ba hộ cks") == [("vneid", 3, Y), ("chu_ky_so", 3, T)]
    assert items("7 hộ hôm qua kích hoạt VNeID") == [("vneid", 7, Y)]  # before any service: no new statement
