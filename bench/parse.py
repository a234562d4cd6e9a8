"""Parser benchmark: the free-text report parser on typical and hostile lines.

Times ``parse_report`` (the parse every text message goes through, also ``tcns parse``)
on lines as members type them and on long or odd input (the first 1,000 characters of
a message are read, after invisible characters are removed; hostile lines include
exponents, hex, bidi controls, full-width and keycap digits). In the same run a baseline
does the least any parser must do: fold diacritics and pick "word number" pairs with one
regular expression. Prints microseconds per line, the ratio to the baseline, and the
slowest hostile line.

    python bench/parse.py [--rounds 5]

Goals: a typical line well under 100 us (the ingest budget per update is ~200 us in
all); no hostile line above 50 ms (no catastrophic backtracking).
"""

from __future__ import annotations

import argparse
import re
import time
from datetime import date
from statistics import median

from bot.content import load_content
from bot.domain.report_parser import parse_report
from bot.domain.textutil import fold

TODAY = date(2026, 11, 22)
TYPICAL = [
    "vneid 5 cks 2",
    "VNeID: 12; CKS: 4; TTKDTM: 6",
    "hôm qua hỗ trợ 7 hộ kích hoạt VNeID và 3 hộ cài chữ ký số",
    "15/11 thanh toán 3",
    "hom qua ho tro 5 ho vneid muc 2, 2 ho cks",
    "Ấp 3 báo cáo: vneid 4 dvc 1",
    "sang nay cai so suc khoe cho 6 ho",
    "ky nang so 10 ho, thanh toan ko co",
    "vneid 3 cks ko",
    "chị Lan thôn 5 sdt 0912 345 678 hỗ trợ vneid 2 hộ",
    "ngày 20 dvc 4",
    "khong co ho nao",
    "chào anh, em là tổ trưởng thôn 3",
    "hỗ trợ 8 hộ cài VNeID mức độ 2 và 2 hộ mở tài khoản ngân hàng",
    "tt 4 ssk 1 kns 9",
]
HOSTILE = [
    "vneid 5 " * 2000,
    "1" * 10_000,
    "a" * 10_000,
    "1 " * 5000 + "vneid",
    "-1.1/1:1 " * 2000,
    "🙂" * 10_000,
    "0912 345 678 " * 1000,
    "<b>" * 3000,
    "vneid " * 2000,
    "1/1/1 " * 2000,
    "\u200b" * 10_000 + "vneid 5",  # invisible padding: cleaned before reading
    "vne\u2060id 1\u200e0\u00ad0 " * 800,
    "\u202e51 " * 3000,  # right-to-left overrides
    "1e9" * 3000,
    "1a" * 5000,  # digits and letters glued: one long odd shape
    "0x" * 5000,
    "５" * 10_000,
    "9" * 10_000 + " vneid",
    "1\ufe0f\u20e3" * 3000,  # keycap digits
]
PAIR = re.compile(r"([a-z]+)\s*:?\s*(\d+)")


def baseline(text: str) -> list[tuple[str, int]]:
    return [(word, int(number)) for word, number in PAIR.findall(fold(text[:1000]))]


def per_line(fn, lines: list[str], repeat: int) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for _ in range(repeat):
        for line in lines:
            fn(line)
    return (time.perf_counter() - start) / (repeat * len(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=400, help="passes over the typical lines per round")
    args = parser.parse_args()
    content = load_content()

    def tcns(text: str) -> object:
        return parse_report(text, today=TODAY, catalogue=content.catalogue, lexicon=content.lexicon,
                            max_count=content.limits.max_count_per_report)

    tcns(TYPICAL[0])  # compile the lexicon once, as the bot does at its first message
    ours, base, ratios = [], [], []
    for _ in range(args.rounds):
        base.append(per_line(baseline, TYPICAL, args.repeat))
        ours.append(per_line(tcns, TYPICAL, args.repeat))
        ratios.append(ours[-1] / base[-1])
    worst, worst_line = 0.0, ""
    for line in HOSTILE:
        spent = min(per_line(tcns, [line], 1) for _ in range(3))
        if spent > worst:
            worst, worst_line = spent, line[:12]
    print(f"typical lines ({len(TYPICAL)}), {args.rounds} rounds x {args.repeat} passes, medians:")
    print(f"  baseline (fold + one regex for 'word number'): {median(base) * 1e6:6.1f} us/line")
    print(f"  tcns parse_report:                             {median(ours) * 1e6:6.1f} us/line  (goal < 100)")
    print(f"  ratio tcns/baseline: {median(ratios):.1f}x")
    print(f"hostile lines ({len(HOSTILE)}): slowest {worst * 1e3:.2f} ms ({worst_line!r}...)  (goal < 50 ms)")


if __name__ == "__main__":
    main()
