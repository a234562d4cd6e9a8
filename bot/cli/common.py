"""What the command-group modules share: the handler type and how they print."""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Callable
from typing import Any

from bot.content import Content, OperatorLogs
from bot.domain.messages import plain_text
from bot.runtime.settings import Settings

Handler = Callable[[argparse.Namespace, Settings], int]


class _Vietnamese(logging.Filter):
    """The operator reads each log line in Vietnamese (``content/logs.yaml``); a line without a
    translation (a library's) is shown as it is."""

    def __init__(self, logs: OperatorLogs) -> None:
        super().__init__()
        self.lines = logs.lines

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg in self.lines:
            record.msg = self.lines[record.msg]
        return True


def vietnamese_logs(content: Content, levels: bool = True) -> None:
    """Log lines (and, with ``levels``, level names) in Vietnamese on every handler of the root logger."""
    logs = content.logs
    for level, name in logs.levels.items() if levels else ():
        logging.addLevelName(logging.getLevelName(level), name)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _Vietnamese) for f in handler.filters):
            handler.addFilter(_Vietnamese(logs))


class _Formatter(argparse.HelpFormatter):
    usage_prefix = "usage: "

    def add_usage(self, usage, actions, groups, prefix=None):  # type: ignore[no-untyped-def]
        super().add_usage(usage, actions, groups, prefix if prefix is not None else self.usage_prefix)


def localise(parser: argparse.ArgumentParser, content: Content, path: str = "") -> None:
    """``tcns --help`` and argparse's errors in Vietnamese (``content/cli_help.yaml``), for every
    command and option of ``parser``; what is missing there keeps the code's English help."""
    words = content.cli_help
    formatter = type("Formatter", (_Formatter,), {"usage_prefix": words.words["usage"]})
    parser.formatter_class = formatter
    parser.description = words.commands.get(path, parser.description)
    parser._positionals.title = words.words["positionals"]
    parser._optionals.title = words.words["optionals"]

    def error(message: str) -> None:  # argparse's own messages, translated
        for pattern, vietnamese in words.errors.items():
            found = re.fullmatch(pattern, message)
            if found:
                message = vietnamese.format(*found.groups())
                break
        else:
            message = words.words["unknown_error"].format(message=message)
        parser.print_usage(sys.stderr)
        parser.exit(2, words.words["error"].format(prog=parser.prog, message=message) + "\n")

    parser.error = error  # type: ignore[method-assign]
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            action.help = words.words["help"]
        elif isinstance(action, argparse._SubParsersAction):
            action.metavar = words.metavars.get("command", action.metavar)  # every level of subcommands
            for choice in action._choices_actions:
                choice.help = words.commands.get(f"{path} {choice.dest}".strip(), choice.help)
            for name, child in action.choices.items():
                localise(child, content, f"{path} {name}".strip())
        else:
            name = action.option_strings[-1] if action.option_strings else action.dest
            action.help = words.options.get(f"{path} {name}".strip(), action.help)
            if action.choices is None and action.nargs != 0:
                action.metavar = words.metavars.get(action.dest, action.metavar)


def say(texts: Any, key: str, *, err: bool = False, **params: Any) -> None:
    """Print one operator-facing text of ``content/`` (plain), to stderr with ``err``."""
    print(plain_text(texts(key, **params)), file=sys.stderr if err else sys.stdout)
