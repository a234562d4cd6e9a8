"""Numbers mean what they look like: hostile digit shapes, invisible and bidi characters,
full-width and other Unicode digits, in the one-line parser, the /baocao count step,
the engine and `tcns parse`."""

from __future__ import annotations

import json
import random
import unicodedata
from pathlib import Path

import pytest
from support import peek
from support.helpers import ChatUser
from support.parsing import TODAY, C, T, V, parse

from bot import cli
from bot.domain.report_parser import ISSUE_CODES, ParseIssue
from bot.domain.textutil import REORDER_MARK, clean, reorders
from bot.flows.report import count_issue
from bot.services.demo import Demo
from storage import Database

RLO, RLE, RLI, PDF, PDI = "\u202e", "\u202b", "\u2067", "\u202c", "\u2069"
LRM, RLM, LRE, LRI = "\u200e", "\u200f", "\u202a", "\u2066"
ZWSP, ZWNJ, ZWJ, WJ, SHY, BOM, VS16 = "\u200b", "\u200c", "\u200d", "\u2060", "\u00ad", "\ufeff", "\ufe0f"
KEYCAP = "\ufe0f\u20e3"

# (text, expected items, expected issue codes): lines as a hostile tester types them.
HOSTILE: list[tuple[str, dict[str, int], list[str]]] = [
    # exponents, hex and other letter-glued digits are never some other number
    ("vneid 1e9", {}, ["not_a_number"]),
    ("vneid 5e2", {}, ["not_a_number"]),
    ("vneid 0x10", {}, ["not_a_number"]),
    ("VNeID 1E9", {}, ["not_a_number"]),
    ("vneid 1e+9", {}, ["not_a_number"]),
    ("vneid 2e-3", {}, ["not_a_number"]),
    ("vneid 1.5e3", {}, ["not_a_number"]),
    ("vneid1e9", {}, ["not_a_number"]),
    ("vneid: 0xff", {}, ["not_a_number"]),
    ("vneid=0x1f", {}, ["not_a_number"]),
    ("5e2 hộ vneid", {}, ["not_a_number"]),
    ("vneid 2x3", {}, ["not_a_number"]),
    ("vneid 5 cks 2e3", {}, ["not_a_number"]),
    ("vneid 1e9e9", {}, ["not_a_number"]),
    # ...but the shapes people really use still read as before
    ("cks2vneid5", {C: 2, V: 5}, []),
    ("chuyển khoản 1tr5 cho 3 hộ", {T: 3}, []),  # 1tr5 is money
    ("lúc 8h30p vneid 3", {V: 3}, []),  # a time
    ("vneid 5, 1e9 người khác", {V: 5}, []),  # not next to the service: ignored
    # invisible characters inside digits and words: read as seen
    (f"vneid 1{LRM}00", {V: 100}, []),
    (f"vneid 1{ZWSP}0{ZWNJ}0", {V: 100}, []),
    (f"vneid 1{WJ}00", {V: 100}, []),
    (f"vneid 1{SHY}2", {V: 12}, []),
    (f"vne{WJ}id 5", {V: 5}, []),
    (f"v{SHY}n{ZWJ}eid 5", {V: 5}, []),
    (f"{BOM}vneid 5", {V: 5}, []),
    (f"vneid{VS16} 5", {V: 5}, []),
    (f"vneid 5{LRM} cks 2", {V: 5, C: 2}, []),
    (f"vneid {LRE}15{PDF}", {V: 15}, []),  # left-to-right wrapping (copied phone numbers) changes nothing
    (f"vneid {LRI}15{PDI}", {V: 15}, []),
    # right-to-left controls or letters: the digits may show in another order, none is read
    (f"vneid {RLO}51", {}, ["reordered"]),
    (f"vneid {RLE}51{PDF}", {}, ["reordered"]),
    (f"vneid {RLI}51{PDI}", {}, ["reordered"]),
    (f"vneid 5{RLM} 3", {}, ["reordered"]),
    ("vneid 5 \u05d0 3", {}, ["reordered"]),
    (f"{RLO}vneid 5 cks 2", {}, ["reordered"]),
    # oversized digit strings are too large, not a missing count
    ("vneid 99999999999999999999", {}, ["too_large"]),
    ("vneid 123456789", {}, ["too_large"]),
    ("vneid: 1.000.000.000", {}, ["too_large"]),
    ("99999999999 hộ vneid", {}, ["too_large"]),
    ("vneid 0000000005", {V: 5}, []),  # leading zeros: still 5
    ("vneid 5, sdt 0912345678", {V: 5}, []),  # a phone number away from the service is ignored
    # Unicode digits read as the digits they are
    ("vneid ５", {V: 5}, []),
    ("vneid １２ cks ３", {V: 12, C: 3}, []),
    ("ｖｎｅｉｄ\u3000５", {V: 5}, []),
    ("vneid ٣", {V: 3}, []),  # Arabic-Indic
    ("vneid ५", {V: 5}, []),  # Devanagari
    ("vneid 𝟓", {V: 5}, []),  # mathematical bold
    (f"vneid 5{KEYCAP}", {V: 5}, []),  # keycap emoji
    (f"vneid 1{KEYCAP}0{KEYCAP}", {V: 10}, []),
    ("vneid 1\u2009000", {}, ["too_large"]),  # a thin space groups thousands
    ("vneid ²", {}, ["missing_count"]),  # a superscript is not a count
    ("vneid ½", {}, ["missing_count"]),
]


@pytest.mark.parametrize(("text", "items", "codes"), HOSTILE, ids=[ascii(c[0])[:50] for c in HOSTILE])
def test_hostile_numbers(text: str, items: dict[str, int], codes: list[str]) -> None:
    result = parse(text)
    assert {item.service: item.count for item in result.items} == items
    assert [issue.code for issue in result.issues] == codes
    assert not result.nothing


def test_hostile_table_is_large() -> None:
    assert len(HOSTILE) >= 25


def test_issue_values_show_what_was_typed_never_a_whole_phone_number() -> None:
    assert parse("vneid 1e9").issues == (ParseIssue("not_a_number", V, "1e9"),)
    assert parse("vneid 0x10").issues == (ParseIssue("not_a_number", V, "0x10"),)
    assert parse("vneid 99999999999999999999").issues == (ParseIssue("too_large", V, "9999…"),)
    assert parse("cks 0912345678").issues == (ParseIssue("too_large", C, "0912…"),)
    assert parse("vneid 600").issues == (ParseIssue("too_large", V, "600"),)


@pytest.mark.parametrize("zero", ["0", "０", "٠", "۰", "०", "০", "๐", "𝟎", "𝟘"])
def test_every_decimal_digit_reads_the_same_in_the_line_and_the_count_step(zero: str) -> None:
    base = ord(zero)
    for value in range(1, 10):
        digit = chr(base + value)
        assert unicodedata.decimal(digit) == value
        assert [(i.service, i.count) for i in parse(f"vneid {digit}").items] == [(V, value)]
        assert count_issue(digit, 500) == (value, None)
    twelve = chr(base + 1) + chr(base + 2)
    assert [(i.service, i.count) for i in parse(f"cks {twelve} hộ").items] == [(C, 12)]
    assert count_issue(twelve, 500) == (12, None)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("5", (5, None)),
        ("５", (5, None)),
        ("７ hộ", (7, None)),
        (f"1{LRM}00", (100, None)),
        (f"1{WJ}2", (12, None)),
        (f"{BOM}3", (3, None)),
        (f"4{KEYCAP}", (4, None)),
        ("1e9", (None, "not_a_number")),
        ("5e2", (None, "not_a_number")),
        ("0x10", (None, "not_a_number")),
        ("abc", (None, "not_a_number")),
        ("99999999999999999999", (None, "too_large")),
        ("9" * 5000, (None, "too_large")),  # no int() on thousands of digits
        ("1.000", (None, "too_large")),  # a thousand, as in a line
        ("−4", (None, "negative")),  # a Unicode minus
        ("00", (None, "zero")),
        ("2,5", (None, "fraction")),
        (f"{RLO}51", (None, "reordered")),
        (f"5{RLM}1", (None, "reordered")),
    ],
)
def test_count_step_reads_a_typed_count(typed: str, expected: tuple[int | None, str | None]) -> None:
    assert count_issue(typed, 500) == expected


def test_parser_codes_include_the_new_ones() -> None:
    assert {"not_a_number", "reordered"} <= set(ISSUE_CODES)


# --------------------------------------------------------------------------- clean()


def test_clean_keeps_vietnamese_and_emoji_and_removes_the_invisible() -> None:
    vietnamese = "Nguyễn Thị Lan ở Ấp Mỹ Thạnh: hỗ trợ được 7 hộ kích hoạt định danh điện tử"
    assert clean(vietnamese) == vietnamese
    decomposed = unicodedata.normalize("NFD", vietnamese)
    assert decomposed != vietnamese and clean(decomposed) == vietnamese  # composed, letters kept
    for emoji in ("❤️", "👨‍👩‍👧", "❤️‍🔥", "⚠️ Họp lúc 8h", "🏳️‍🌈"):
        assert clean(emoji) == emoji
    assert clean(f"vne{WJ}id{ZWJ} 5{SHY}{BOM}") == "vneid 5"
    assert clean("a\u00a0b\u2003c\u3000d") == "a b c d"  # every space is a space
    assert clean("dòng 1\u2028dòng 2") == "dòng 1\ndòng 2"
    assert clean("tab\tand\nline\r") == "tab\tand\nline\r"
    assert clean("\ud800ok") == "ok"  # a lone surrogate cannot be stored
    assert clean(f"{RLO}51") == f"{REORDER_MARK}51" and reorders(clean(f"{RLO}51"))
    assert not reorders(clean(f"{LRE}51{PDF}"))
    assert clean("x²+½①") == "x²+½①"  # not plain digits: left alone


def test_clean_is_idempotent_and_leaves_no_invisible_character() -> None:
    rng = random.Random(5)
    alphabet = [*"aăâbcdđeêghiklmnoôơpqrstuưvxyAĐ0123456789 .,:;-/", ZWSP, WJ, SHY, RLO, LRM, VS16, KEYCAP,
                "５", "٣", "𝟓", "\u0301", "\u0303", "🙂", "\u2009", "\u00a0", "ｖ"]
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 25)))
        once = clean(text)
        assert clean(once) == once, ascii(text)
        assert not any(unicodedata.category(c) in ("Cf", "Nd") and not c.isascii() for c in once), ascii(once)


# --------------------------------------------------------------------------- through the engine


async def _reports(db: Database) -> list[tuple]:
    return await peek.live_reports(db)


async def _joined(user: ChatUser, demo: Demo) -> ChatUser:
    assert "Chào mừng" in await user.send(f"/start {demo.villages[0].member_code}")
    return user


async def test_count_step_takes_full_width_digits_like_the_line(user: ChatUser, demo: Demo, db: Database):
    await _joined(user, demo)
    await user.send("/baocao")
    await user.tap("VNeID")
    assert "Ghi nhận?" in await user.send("５")
    assert "VNeID: 5 người" in await user.tap("✔ Ghi nhận")
    await user.send("/baocao")
    await user.tap("Chữ ký số")
    assert "Ghi nhận?" in await user.send("１２")  # not a quick-choice key: read as a count
    assert "Chữ ký số: 12 người" in await user.tap("✔ Ghi nhận")
    assert "Đã ghi nhận" in await user.send("ssk ５")
    assert await _reports(db) == [("vneid", 5), ("chu_ky_so", 12), ("so_suc_khoe", 5)]


async def test_count_step_refuses_shapes_that_are_not_counts(user: ChatUser, demo: Demo, db: Database):
    await _joined(user, demo)
    await user.send("/baocao")
    await user.tap("Thanh toán")
    assert "chữ số" in await user.send("1e9")
    assert "chữ số" in await user.send("0x10")
    assert "quá lớn" in await user.send("99999999999999999999")
    assert "sai thứ tự" in await user.send(f"{RLO}51")
    assert "Thanh toán: 100 hộ" in await user.send(f"1{LRM}00")  # looks like 100, is 100
    await user.tap("✔ Ghi nhận")
    assert await _reports(db) == [("thanh_toan", 100)]


async def test_one_line_reports_with_hostile_numbers(user: ChatUser, demo: Demo, db: Database):
    await _joined(user, demo)
    assert "chữ số" in await user.send("vneid 1e9")
    assert "chữ số" in await user.send("vneid 5e2")
    assert "chữ số" in await user.send("vneid 0x10")
    assert "sai thứ tự" in await user.send(f"vneid {RLO}51")
    answer = await user.send("vneid 99999999999999999999")
    assert "quá lớn" in answer and "99999999999999999999" not in answer
    assert await _reports(db) == []
    assert "VNeID: 100 người" in await user.send(f"vneid 1{LRM}00")
    assert "VNeID: 5 người" in await user.send(f"vne{WJ}id 5")
    assert "Chữ ký số: 7 người" in await user.send(f"cks 7{SHY}")
    assert await _reports(db) == [("vneid", 100), ("vneid", 5), ("chu_ky_so", 7)]


async def test_a_message_of_invisible_characters_is_empty(user: ChatUser, demo: Demo, db: Database):
    await _joined(user, demo)
    assert "chỉ đọc tin nhắn chữ" in await user.send(ZWSP * 3000 + WJ)
    assert "Đã ghi nhận" in await user.send(ZWSP * 3000 + "vneid 4")  # invisible padding is not length
    assert await _reports(db) == [("vneid", 4)]


@pytest.mark.parametrize("bare", ["không", "ko", "k", "Không.", "KO", "chưa"])
async def test_a_bare_no_is_not_a_zero_report(bare: str, user: ChatUser, demo: Demo, db: Database):
    await _joined(user, demo)
    answer = await user.send(bare)
    assert "Đã ghi nhận" not in answer
    assert await _reports(db) == []
    assert "Đã ghi nhận" in await user.send("không có")
    assert await _reports(db) == [("none", 0)]


@pytest.mark.parametrize("text", ["không", "ko", "k", "không.", "dạ không", "k ạ", "chưa", "chẳng"])
def test_bare_negations_are_not_nothing(text: str) -> None:
    result = parse(text)
    assert not result.nothing and not result.items and not result.issues


@pytest.mark.parametrize("text", ["không có", "khong co", "0 hộ", "ko co ho nao", "k co", "vneid không",
                                  "không có vneid", "chưa có hộ nào", "hôm qua không có"])
def test_nothing_phrases_still_are_nothing(text: str) -> None:
    assert parse(text).nothing


# --------------------------------------------------------------------------- tcns parse


def _cli_parse(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = cli.main(["parse", *argv, "--today", TODAY.isoformat()])
    return code, json.loads(capsys.readouterr().out)


def test_tcns_parse_applies_the_bots_length_limit(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out = _cli_parse(capsys, "vneid 5 " * 12_500)  # 100,000 characters
    assert code == 1
    assert out == {"items": [], "date": None,
                   "errors": ["Tin nhắn quá dài (tối đa 1000 ký tự). Gõ ngắn gọn, ví dụ: vneid 5 cks 2."]}
    code, out = _cli_parse(capsys, "x" * 1000)  # exactly the limit is read
    assert code == 0 and out["errors"] == []
    code, out = _cli_parse(capsys, ZWSP * 5000 + "vneid 5")  # invisible characters are not length
    assert code == 0 and out["items"] == [{"service": "vneid", "count": 5, "date": None}]
    code, out = _cli_parse(capsys, "vneid 1e9")
    assert code == 0 and out["items"] == [] and out["errors"] == ["Gõ số người VNeID bằng chữ số, ví dụ 7."]
    code, out = _cli_parse(capsys, "vneid ５")
    assert code == 0 and out["items"] == [{"service": "vneid", "count": 5, "date": None}]
    assert not (tmp_path / "tcns.db").exists()
