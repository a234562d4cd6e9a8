"""``.env.example`` names every setting (bot/runtime/settings.py), so an operator sees them all."""

from __future__ import annotations

import re
from pathlib import Path

from bot.runtime.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"


def test_every_setting_is_in_env_example() -> None:
    named = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", EXAMPLE.read_text(encoding="utf-8"), re.MULTILINE))
    settings = {str(field.validation_alias) for field in Settings.model_fields.values()}
    assert settings - named == set(), "add these to .env.example"
