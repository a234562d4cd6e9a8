"""No English and no internal codes reach a user or an operator (issue 16, item 5).

Scanned: every text of content/texts (with the words for buttons and for typing), `tcns --help`
for every command and option, argparse's messages, and every log line of bot/ (each has its
Vietnamese line in content/logs.yaml). Commands (/thang), options (--commune), environment
variables (TELEGRAM_BOT_TOKEN) and file formats are what people type: they are left out.
"""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

import pytest

from bot.cli import _parser
from bot.cli.common import localise
from bot.content import load_content
from bot.domain.messages import for_buttons, for_typing, plain_text

ROOT = Path(__file__).resolve().parents[2]
ENGLISH = frozenset((
    "the", "and", "with", "all", "terminal", "digest", "before", "eve", "due", "overdue", "pending", "sending",
    "sent", "blocked", "expired", "skipped", "uncertain", "error", "errors", "failed", "warning", "commune",
    "communes", "village", "villages", "member", "members", "staff", "leader", "admin", "report", "reports",
    "user", "users", "usage", "options", "arguments", "required", "invalid", "choice", "show", "message",
    "exit", "ready", "retry", "retrying", "update", "updates", "outbox", "inbox", "database", "stopping",
    "please", "yes", "unit", "none", "true", "false", "null", "from", "for", "you", "your", "this", "that",
    "not", "delivery", "chat", "settings", "content", "configuration", "positional", "optional", "command",
    "commands",
))
# Internal codes: period keys (2026-Q4, 2026-11, 2026-W47), snake_case identifiers, unit:6, button data.
CODES = re.compile(r"\b\d{4}-(?:Q[1-4]|W\d{1,2}|H[12]|\d{2})(?:k\d+)?\b|\b[a-z]+_[a-z_]+\b|\b(?:unit|member|g):\d")
# What people type, kept as typed: commands, options, environment variables, placeholders of the
# templates, file formats and the CLI's period codes where their Vietnamese meaning is given.
TYPED = re.compile(r"(?:\./)?\btcns \w+|/[a-z]+|--?[a-z][\w-]*|\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b|\{[^}]*\}|https?://\S+|\w+:///?\S*|@\w+|\bpg_\w+|"
                   r"code,name,households,adults|commune,village,service,year,target")
# Where a period code is the operator's input, explained in Vietnamese next to it.
CODE_EXAMPLES = {"admin_cli.not_a_period", "export --period"}


def problems(text: str, typed: frozenset[str] = frozenset()) -> list[str]:
    """The internal codes and English words in ``text`` (``typed``: command names, as typed)."""
    bare = TYPED.sub(" ", plain_text(text))
    found = [f"code {m.group()!r}" for m in CODES.finditer(bare)]
    bare = CODES.sub(" ", bare)
    found += [f"English {w!r}" for w in re.findall(r"[A-Za-z]+", bare) if w.lower() in ENGLISH and w not in typed]
    return found


def command_names() -> frozenset[str]:
    parser, _ = _parser()
    return frozenset(name for path, _ in _parsers(parser) for name in path.split())


def test_the_scan_catches_english_and_codes():
    assert problems("Lịch nhắc: digest before 2026-Q4") == ["code '2026-Q4'", "English 'digest'", "English 'before'"]
    assert problems("– terminal –") == ["English 'terminal'"] and problems("member_undo") == ["code 'member_undo'"]
    assert problems("Gõ /thongbao cả xã, TELEGRAM_BOT_TOKEN, --commune") == []


def test_no_text_of_content_has_english_or_codes():
    texts = load_content().texts
    wrong = [f"{key}: {p}" for key in texts if key not in CODE_EXAMPLES
             for variant in (for_buttons(texts(key)), for_typing(texts(key))) for p in problems(variant)]
    assert not wrong, "\n".join(wrong)


def _parsers(parser: argparse.ArgumentParser, path: str = ""):  # type: ignore[no-untyped-def]
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, f"{path} {name}".strip())


def test_tcns_help_is_vietnamese_for_every_command_and_option():
    parser, _ = _parser()
    content = load_content()
    localise(parser, content)
    helps = content.cli_help
    wrong = []
    for path, command in _parsers(parser):
        if path not in helps.commands:
            wrong.append(f"tcns {path}: no Vietnamese help in content/cli_help.yaml (commands)")
        shown = command.format_help()
        wrong += [f"tcns {path} --help: {p}" for p in problems(shown, command_names())
                  if path != "export" or "2026" not in p]
        for action in command._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            name = f"{path} {action.option_strings[-1] if action.option_strings else action.dest}".strip()
            if name not in helps.options:
                wrong.append(f"tcns {name}: no Vietnamese help in content/cli_help.yaml (options)")
    assert not wrong, "\n".join(wrong)


def test_argparse_errors_are_vietnamese(capsys):
    from bot.cli import main

    for argv in (["commune", "add"], ["nope"], ["export", "--commune", "X", "--period", "1", "--format", "pdf"],
                 ["parse", "a", "b"]):
        with pytest.raises(SystemExit):
            main(argv)
        err = capsys.readouterr().err
        assert "lỗi:" in err and "cách dùng:" in err and not problems(err.split("lỗi:")[1], command_names()), err


def _log_lines() -> dict[str, str]:
    lines = {}
    for path in sorted((ROOT / "bot").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("debug", "info", "warning", "error", "exception", "critical")
                    and isinstance(node.func.value, ast.Name) and node.func.value.id in ("log", "logger")
                    and node.args and isinstance(node.args[0], ast.Constant)):
                lines[node.args[0].value] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return lines


def test_every_log_line_an_operator_reads_is_vietnamese():
    logs = load_content().logs
    found = _log_lines()
    missing = [f"{where}: {line!r}" for line, where in found.items() if line not in logs.lines]
    assert not missing, "add the Vietnamese line to content/logs.yaml:\n" + "\n".join(missing)
    assert not [line for line in logs.lines if line not in found], "lines no code logs any more"
    wrong = [f"{line!r}: {p}" for line, vi in logs.lines.items() for p in problems(re.sub(r"%\S", " ", vi))]
    assert not wrong, "\n".join(wrong)


def test_the_log_handler_shows_the_vietnamese_line(caplog):
    import logging

    from bot.cli.common import _Vietnamese

    handler = logging.StreamHandler()
    record = logging.LogRecord("bot", logging.INFO, __file__, 1, "Telegram bot @%s is ready", ("tcns_bot",), None)
    _Vietnamese(load_content().logs).filter(record)
    assert handler.format(record) == "bot Telegram @tcns_bot đã sẵn sàng"
