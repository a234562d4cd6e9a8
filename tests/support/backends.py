"""The storage backends the tests run on, and a fresh database on one of them.

``BACKENDS`` is every backend (``sqlite``, ``postgres``), or those ``TCNS_TEST_BACKENDS``
names (a comma list: ``TCNS_TEST_BACKENDS=sqlite ./tcns test`` for a quick run).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ALL = ("sqlite", "postgres")
BACKENDS = [b for b in os.environ.get("TCNS_TEST_BACKENDS", ",".join(ALL)).split(",") if b in ALL]


def fresh(request: pytest.FixtureRequest, backend: str, folder: Path, name: str = "tcns.db") -> str:
    """The ``TCNS_DB`` of a fresh, migrated, empty database on ``backend``: a file ``name`` in
    ``folder`` for SQLite (migrated when first opened), else the URL the fixture ``<backend>_url``
    gives (a new migrated database, dropped after the test)."""
    if backend == "sqlite":
        return str(folder / name)
    return request.getfixturevalue(f"{backend}_url")


def on_backends(fixture_name: str = "db_url"):  # type: ignore[no-untyped-def]
    """A ``db_url``-like fixture parametrised over ``BACKENDS`` (one test per backend)."""

    @pytest.fixture(name=fixture_name, params=BACKENDS)
    def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
        return fresh(request, request.param, tmp_path)

    return url
