"""The parser as the parser tests call it: today's date, the real catalogue and lexicon."""

from __future__ import annotations

from datetime import date

from bot.content import DEFAULT_CONTENT_DIR, ContentError, _load_model, load_content
from bot.domain.catalogue import Catalogue
from bot.domain.report_parser import ParseResult, ParserLexicon, parse_report

TODAY = date(2026, 11, 22)
YESTERDAY = date(2026, 11, 21)
MAX = 500


def _load() -> tuple[Catalogue, ParserLexicon]:
    try:
        content = load_content()
        return content.catalogue, content.lexicon
    except ContentError:  # limits/demo/texts not written yet: load only what the parser needs
        catalogue = _load_model(DEFAULT_CONTENT_DIR / "services.yaml", Catalogue)
        lexicon = _load_model(DEFAULT_CONTENT_DIR / "parser.yaml", ParserLexicon)
        return catalogue, lexicon


CATALOGUE, LEXICON = _load()


def parse(text: str, *, today: date = TODAY, max_count: int = MAX) -> ParseResult:
    return parse_report(text, today=today, catalogue=CATALOGUE, lexicon=LEXICON, max_count=max_count)


V, C, T, D, S, K = "vneid", "chu_ky_so", "thanh_toan", "dich_vu_cong", "so_suc_khoe", "ky_nang_so"
