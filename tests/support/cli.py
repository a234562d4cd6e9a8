"""The command line as a newcomer runs it: ``tcns`` in a subprocess, on a database in a temporary folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path


def tcns(tmp_path: Path, *args: str, stdin: str = "", extra_env: dict[str, str] | None = None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TCNS_", "TELEGRAM_"))}
    env["TCNS_DB"] = str(tmp_path / "tcns.db")
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], input=stdin, capture_output=True, text=True,
        env=env, cwd=tmp_path, timeout=60,
    )


def demo_codes(output: str) -> dict[str, str]:
    return dict(re.findall(r"^\s+(Ấp [^:]+): (\w+) \(thành viên\)", output, re.MULTILINE))
