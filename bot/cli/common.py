"""What the command-group modules share: the handler type and how they print."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from bot.domain.messages import plain_text
from bot.runtime.settings import Settings

Handler = Callable[[argparse.Namespace, Settings], int]


def say(texts: Any, key: str, *, err: bool = False, **params: Any) -> None:
    """Print one operator-facing text of ``content/`` (plain), to stderr with ``err``."""
    print(plain_text(texts(key, **params)), file=sys.stderr if err else sys.stdout)
