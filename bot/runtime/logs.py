"""Logging for the long-running commands: text lines, or one JSON object per line
(``TCNS_LOG_FORMAT=json``: journald, Loki or any collector reads them as they are)."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime

# JSON logs name levels as log collectors expect, even where the text logs show them in
# Vietnamese (bot/cli/common.py renames the levels for operators).
_STANDARD_LEVELS = {logging.DEBUG: "DEBUG", logging.INFO: "INFO", logging.WARNING: "WARNING",
                    logging.ERROR: "ERROR", logging.CRITICAL: "CRITICAL"}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "pid"[, "exc"]}``, one line per record."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": _STANDARD_LEVELS.get(record.levelno, record.levelname),  # for collectors, whatever operators read
            "logger": record.name,
            "message": record.getMessage(),
            "pid": os.getpid(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(log_format: str = "text", level: int = logging.INFO) -> None:
    """Send the root logger's records to stderr as text or JSON lines (replacing its handlers)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per job added or run
