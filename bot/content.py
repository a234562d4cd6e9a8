"""Load and validate the files in ``content/``.

Content is data: the service catalogue, user-facing Vietnamese texts, limits and
the demo commune. Every file is validated with pydantic at start-up; a broken file
raises :class:`ContentError` naming the file and the field.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.domain.catalogue import Catalogue
from bot.domain.deadlines import DeadlineConfig, Planner
from bot.domain.messages import Markup
from bot.domain.report_parser import ParserLexicon
from bot.domain.tally import TallySettings
from bot.domain.textutil import fold

DEFAULT_CONTENT_DIR = Path(__file__).resolve().parent.parent / "content"


class ContentError(Exception):
    """A content file is missing or invalid; the message names the file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(_Strict):
    max_count_per_report: int = Field(default=500, ge=1, le=100_000)
    undo_window_hours: int = Field(default=48, ge=1, le=24 * 30)
    max_backdate_days: int = Field(default=62, ge=1, le=366)
    max_message_chars: int = Field(default=1000, ge=50, le=4096)
    repeat_window_minutes: int = Field(default=120, ge=0, le=24 * 60)


class DemoVillage(_Strict):
    code: str = Field(pattern=r"^[A-Za-z0-9_-]{1,20}$")
    name: str = Field(min_length=1, max_length=80)
    households: int = Field(ge=0)
    adults: int = Field(ge=0)


class DemoCommune(_Strict):
    province: str
    province_code: str
    code: str
    name: str
    staff_name: str
    villages: tuple[DemoVillage, ...] = Field(min_length=1)
    # Yearly targets for every demo village, set for the year the demo is seeded:
    # service code -> "80%" (of the village's households) or "120" (households).
    targets: dict[str, str] = Field(default_factory=dict)


class AnswerWords(_Strict):
    """``content/answers.yaml``: words people type to answer the bot."""

    agree: tuple[str, ...] = Field(min_length=1)
    decline: tuple[str, ...] = Field(min_length=1)
    undo: tuple[str, ...] = Field(min_length=1)
    echo: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _distinct(self) -> AnswerWords:
        both = {answer_key(w) for w in self.agree} & {answer_key(w) for w in self.decline}
        if both:
            raise ValueError(f"{sorted(both)[0]!r} is both a yes and a no")
        return self


_NOT_WORD = re.compile(r"[^\w\s]|_")


@lru_cache(maxsize=4096)
def answer_key(text: str) -> str:
    """How a typed answer is compared: folded, without punctuation or emoji."""
    return fold(_NOT_WORD.sub(" ", text))


class Answers:
    """The answer words, folded, for matching whole messages."""

    def __init__(self, words: AnswerWords) -> None:
        self.yes = frozenset(answer_key(w) for w in words.agree)
        self.no = frozenset(answer_key(w) for w in words.decline)
        self.undo = frozenset(answer_key(w) for w in words.undo)
        self.echo = tuple(fold(w) for w in words.echo)

    def yes_or_no(self, text: str) -> bool | None:
        """True for a yes, False for a no, None for anything else."""
        key = answer_key(text)
        if key in self.yes:
            return True
        if key in self.no:
            return False
        return None

    def is_undo(self, text: str) -> bool:
        return len(text) <= 40 and answer_key(text) in self.undo

    def is_echo(self, text: str) -> bool:
        """The bot's own message pasted back: a bullet list, or one of the echo phrases."""
        if "•" in text:
            return True
        folded = fold(text)
        return any(phrase in folded for phrase in self.echo)


def escape(value: Any) -> str:
    """Escape a value for a template: user text is escaped, rendered Markup is kept."""
    if isinstance(value, Markup):
        return value
    if isinstance(value, str):
        return html.escape(value, quote=False)
    return value


class Texts:
    """User-facing Vietnamese texts, addressed by dotted keys (``join.welcome``).

    Templates are Telegram-HTML (``<b>``, ``<i>``); parameters are escaped, so a
    member's name or echoed input can never inject markup. Text-only channels strip
    the tags when rendering.
    """

    def __init__(self, data: dict[str, Any], source: str) -> None:
        self._flat: dict[str, str] = {}
        self._flatten("", data, source)

    def _flatten(self, prefix: str, node: Any, source: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                self._flatten(f"{prefix}{key}.", value, source)
        elif isinstance(node, str):
            self._flat[prefix[:-1]] = node
        else:
            raise ContentError(f"{source}: field {prefix[:-1]!r} must be text")

    def __call__(self, key: str, /, **params: Any) -> Markup:
        template = self._flat[key]
        if not params:
            return Markup(template)
        return Markup(template.format(**{name: escape(value) for name, value in params.items()}))

    def __contains__(self, key: str) -> bool:
        return key in self._flat

    def __iter__(self) -> Iterator[str]:
        return iter(self._flat)


class Content:
    """Everything loaded from the content directory, validated."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.catalogue: Catalogue = _load_model(directory / "services.yaml", Catalogue)
        self.limits: Limits = _load_model(directory / "limits.yaml", Limits)
        self.demo: DemoCommune = _load_model(directory / "demo.yaml", DemoCommune)
        self.answers = Answers(_load_model(directory / "answers.yaml", AnswerWords))
        self.texts = _load_texts(directory)
        if directory.resolve() != DEFAULT_CONTENT_DIR:
            # A deployment's own content must still say everything the code asks for.
            missing = sorted(set(_load_texts(DEFAULT_CONTENT_DIR)) - set(self.texts))
            if missing:
                raise ContentError(f"{directory / 'texts.yaml'} (or texts_*.yaml): missing text field {missing[0]!r}")

    @cached_property
    def tally(self) -> TallySettings:
        return _load_model(self.directory / "tally.yaml", TallySettings)

    @cached_property
    def lexicon(self) -> ParserLexicon:
        return _load_model(self.directory / "parser.yaml", ParserLexicon)

    @cached_property
    def deadlines(self) -> DeadlineConfig:
        return _load_model(self.directory / "deadlines.yaml", DeadlineConfig)

    def planner(self, tz: ZoneInfo) -> Planner:
        """The deadline planner of this content: its rules, and each commune's /ky cut-off day."""
        return Planner(self.deadlines, tz, cutoff_days=self.tally.cutoff_day)


def _load_texts(directory: Path) -> Texts:
    """``texts.yaml`` plus any ``texts_*.yaml`` (one per feature); a key defined twice is an error."""
    merged: dict[str, Any] = {}
    files = [directory / "texts.yaml", *sorted(directory.glob("texts_*.yaml"))]
    for path in files:
        data = _read_yaml(path)
        if not isinstance(data, dict):
            raise ContentError(f"{path}: expected a mapping of sections")
        for section, body in data.items():
            if section in merged:
                raise ContentError(f"{path}: section {section!r} is already defined in another texts file")
            merged[section] = body
    return Texts(merged, ", ".join(str(f) for f in files))


def _read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.safe_load(handle) or {}
    except FileNotFoundError as exc:
        raise ContentError(f"{path}: file not found") from exc
    except yaml.YAMLError as exc:
        raise ContentError(f"{path}: not valid YAML: {exc}") from exc


def _load_model(path: Path, model: type[BaseModel]) -> Any:
    data = _read_yaml(path)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise ContentError(f"{path}: field {field!r}: {first['msg']}") from exc


def load_content(directory: Path | None = None) -> Content:
    return Content(directory or DEFAULT_CONTENT_DIR)
