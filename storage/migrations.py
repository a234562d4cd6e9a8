"""Versioned schema migrations, one folder per backend: ``NNNN_name.sql`` files applied in
order, once each, and recorded in the backend's ``schema_migrations`` table."""

from __future__ import annotations

import re
from importlib import resources

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def load(package: str) -> list[tuple[int, str]]:
    """The ``(version, script)`` pairs of a migrations package, in order."""
    found = []
    for entry in resources.files(package).iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _ in found]
    if len(set(versions)) != len(versions) or not versions or versions[0] != 1:
        raise RuntimeError(f"migration versions must be unique and start at 1, found {versions}")
    return found
