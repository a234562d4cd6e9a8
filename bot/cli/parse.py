"""``tcns parse "TEXT" [--today YYYY-MM-DD]``: how the bot reads a text report, as JSON."""

from __future__ import annotations

import argparse
import json
from datetime import date

from bot.cli.common import Handler
from bot.content import load_content
from bot.domain.messages import plain_text
from bot.domain.report_parser import parse_report
from bot.domain.textutil import clean
from bot.runtime.settings import Settings


def register(sub: argparse._SubParsersAction) -> dict[str, Handler]:  # type: ignore[type-arg]
    parse = sub.add_parser("parse", help="print how the bot reads a text report, as JSON")
    parse.add_argument("text")
    parse.add_argument("--today", type=date.fromisoformat, default=None, help="YYYY-MM-DD")
    return {"parse": lambda args, settings: parse_text(args.text, args.today, settings)}


def parse_text(text: str, today: date | None, settings: Settings) -> int:
    """Print the bot's reading of ``text`` as JSON; 1 if the bot would refuse it as too long."""
    content = load_content(settings.content_dir)
    today = today or date.today()
    limits = content.limits
    text = clean(text).strip()  # as the engine reads a message
    if len(text) > limits.max_message_chars:
        too_long = plain_text(content.texts("errors.too_long", max=limits.max_message_chars))
        print(json.dumps({"items": [], "date": None, "errors": [too_long]}, ensure_ascii=False))
        return 1
    result = parse_report(
        text, today=today, catalogue=content.catalogue, lexicon=content.lexicon,
        max_count=limits.max_count_per_report,
    )
    errors = []
    for issue in result.issues:
        service = content.catalogue.get(issue.service) if issue.service else None
        errors.append(plain_text(content.texts(
            f"parse_errors.{issue.code}", service=service.short if service else "",
            unit=content.catalogue.unit_word(issue.service) if issue.service else content.catalogue.word("households"),
            value=issue.value or "", max=limits.max_count_per_report,
        )))
    output = {
        # Each item has the day it was done (a line may name several: "hôm qua vneid 3 hôm nay cks 2").
        "items": [{"service": item.service, "count": item.count, "date": item.date.isoformat() if item.date else None}
                  for item in result.items],
        "date": result.date.isoformat() if result.date else None,
        "errors": errors,
    }
    print(json.dumps(output, ensure_ascii=False))
    return 0
