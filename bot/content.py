"""Load and validate the files in ``content/``.

Content is data: the service catalogue, user-facing Vietnamese texts (``texts/``: one file
per feature and ``shared.yaml``), the words people type, limits and the demo commune. Every
file is validated with pydantic at start-up; a broken file raises :class:`ContentError`
naming the file and the field.

The shipped content is the package data of ``tcns_content`` (the top-level ``content/``
folder, mapped in ``pyproject.toml``), so a normal install carries it; ``TCNS_CONTENT_DIR``
points a deployment at its own copy, which must still hold every text the code asks for.
"""

from __future__ import annotations

import html
import importlib.resources
import re
import string
from collections.abc import Iterator, Sequence
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.domain.catalogue import COUNTS, Catalogue, Counts
from bot.domain.deadlines import DeadlineConfig, Planner
from bot.domain.guides import Guide, Guides
from bot.domain.messages import Markup, channel_variant
from bot.domain.periods import PeriodScheme
from bot.domain.report_parser import ParserLexicon
from bot.domain.tally import TallySettings
from bot.domain.textutil import fold


def _shipped_content_dir() -> Path:
    """Where the content shipped with this copy of tcns is: the package ``tcns_content``
    (installed, or mapped onto ``content/`` by an editable install); in a source tree that was
    never installed, the ``content/`` folder next to ``bot/``."""
    try:
        found = importlib.resources.files("tcns_content")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "content"
    if not isinstance(found, Path):  # e.g. inside a zip: the loader reads plain files
        raise ContentError(f"the shipped content ({found}) is not a folder on disk; set TCNS_CONTENT_DIR")
    return found.resolve()


TEXTS_DIR = "texts"  # content/texts/<feature>.yaml and shared.yaml
GUIDES_DIR = "guides"  # content/guides/<topic>.yaml: /huongdan


class ContentError(Exception):
    """A content file is missing or invalid; the message names the file and field."""


DEFAULT_CONTENT_DIR = _shipped_content_dir()


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


_PERCENT = re.compile(r"%[-+ #0]*\d*(?:\.\d+)?[sdifr%]")


class OperatorLogs(_Strict):
    """``content/logs.yaml``: the log lines an operator reads, English format -> Vietnamese."""

    levels: dict[str, str]
    lines: dict[str, str]

    @model_validator(mode="after")
    def _same_placeholders(self) -> OperatorLogs:
        for english, vietnamese in self.lines.items():
            if _PERCENT.findall(english) != _PERCENT.findall(vietnamese):
                raise ValueError(f"{english!r}: the Vietnamese line needs the same %-placeholders in the same order")
        return self


class CliHelp(_Strict):
    """``content/cli_help.yaml``: ``tcns --help`` and argparse's messages in Vietnamese."""

    words: dict[str, str]
    metavars: dict[str, str]
    errors: dict[str, str]
    commands: dict[str, str]
    options: dict[str, str]

    @model_validator(mode="after")
    def _patterns(self) -> CliHelp:
        for pattern in self.errors:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from exc
        return self


class AnswerWords(_Strict):
    """``content/answers.yaml``: words people type to answer the bot."""

    agree: tuple[str, ...] = Field(min_length=1)
    decline: tuple[str, ...] = Field(min_length=1)
    undo: tuple[str, ...] = Field(min_length=1)
    echo: tuple[str, ...] = Field(min_length=1)
    greeting: tuple[str, ...] = Field(min_length=1)
    thanks: tuple[str, ...] = Field(min_length=1)
    help: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _distinct(self) -> AnswerWords:
        both = {answer_key(w) for w in self.agree} & {answer_key(w) for w in self.decline}
        if both:
            raise ValueError(f"{sorted(both)[0]!r} is both a yes and a no")
        return self


_NOT_WORD = re.compile(r"[^\w\s]|_")


@lru_cache(maxsize=4096)
@lru_cache(maxsize=256)
def answer_key(text: str) -> str:
    """How a typed answer is compared: folded, without punctuation or emoji (pure: the last
    few are kept, one message is keyed several times on its way)."""
    return fold(_NOT_WORD.sub(" ", text))


class Answers:
    """The answer words, folded, for matching whole messages."""

    def __init__(self, words: AnswerWords) -> None:
        self.yes = frozenset(answer_key(w) for w in words.agree)
        self.no = frozenset(answer_key(w) for w in words.decline)
        self.undo = frozenset(answer_key(w) for w in words.undo)
        self.echo = tuple(fold(w) for w in words.echo)
        # Small talk: by its letters ("Chào!" = "chao"), or as typed when it has none ("👍", "?").
        self._talk = {(answer_key(w) or w.strip()): kind for kind in ("greeting", "thanks", "help")
                      for w in getattr(words, kind)}

    def small_talk(self, text: str) -> str | None:
        """"greeting", "thanks" or "help" for a whole message that is one, else None."""
        if len(text) > 40:
            return None
        key = answer_key(text) or "".join(text.split()).replace("\ufe0f", "")
        return self._talk.get(key)

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


def _a_word(word: str) -> str:
    if not re.search(r"[^\W_]", fold(word)):
        raise ValueError(f"{word!r} has no letter or digit")
    return word


Word = Annotated[str, AfterValidator(_a_word)]
Words = Annotated[tuple[Word, ...], Field(min_length=1)]


ROLE_WORDS = ("member", "leader", "staff", "province_staff")  # the roles a word in a command can name


class RoleWords(_Strict):
    member: Words
    leader: Words
    staff: Words
    province_staff: Words

    @model_validator(mode="after")
    def _one_role_a_word(self) -> RoleWords:
        seen: dict[str, str] = {}
        for role in ROLE_WORDS:
            for word in getattr(self, role):
                if seen.setdefault(fold(word), role) != role:
                    raise ValueError(f"{word!r} names both {seen[fold(word)]} and {role}")
        return self


class CountUnitWords(_Strict):
    """The words that may follow a count, by what the service counts."""

    households: Words
    people: Words
    sessions: Words


class VocabularyWords(_Strict):
    """``content/vocabulary.yaml``: words people type inside a command's arguments."""

    roles: RoleWords  # /moi THÔN totruong, /vaitro SỐ canbo
    whole_commune: Words  # /thongbao all ...
    commune: Words  # /chitieu xa ...
    province: Words = ()  # /chitieu tinh ... (province staff, an admin)
    of_adults: Words  # /chitieu ... 80% người
    of_households: Words  # /chitieu ... 80% hộ
    count_units: CountUnitWords  # "5 hộ", "5 người" in the /baocao count step
    place_prefixes: Words  # "Ấp Mỹ Phú" named "Mỹ Phú" (bot/flows/resolve.py)


class Vocabulary:
    """The words of ``vocabulary.yaml``, folded for matching what is typed."""

    def __init__(self, words: VocabularyWords) -> None:
        self.roles = {fold(w): role for role in ROLE_WORDS for w in getattr(words.roles, role)}
        self.whole_commune = frozenset(fold(w) for w in words.whole_commune)
        self.commune = frozenset(fold(w) for w in words.commune)
        self.province = frozenset(fold(w) for w in words.province)
        self.of_adults = frozenset(fold(w) for w in words.of_adults)
        self.of_households = frozenset(fold(w) for w in words.of_households)
        self.units_by_kind = {kind: tuple(fold(w) for w in getattr(words.count_units, kind)) for kind in COUNTS}
        # Every word that may follow a count, whatever it counts (for a caller with no service).
        self.count_units = tuple(dict.fromkeys(w for found in self.units_by_kind.values() for w in found))

        self.place_prefixes = words.place_prefixes  # as written: "ấp" is how a commune names its villages
        self.roles.update({word.replace(" ", ""): role for word, role in list(self.roles.items())})
        self.whole_commune = self.whole_commune | {w.replace(" ", "") for w in self.whole_commune}
        self.commune = self.commune | {w.replace(" ", "") for w in self.commune}

    def count_units_of(self, kind: Counts) -> tuple[str, ...]:
        """The folded words that may follow a count of ``kind`` ("5 người" for people)."""
        return self.units_by_kind.get(kind, ())

    def said_kind(self, word: str) -> Counts | None:
        """The kind a share names after its value: "người" -> people, "hộ" -> households."""
        folded = fold(word)
        if folded in self.of_adults:
            return "people"
        return "households" if folded in self.of_households else None

    def role(self, word: str) -> str | None:
        """The role typed words name ("tổ trưởng", "totruong" -> "leader"), or None."""
        return self.roles.get(fold(word)) or self.roles.get(fold(word).replace(" ", ""))

    def lead(self, words: Sequence[str], table: frozenset[str], longest: int = 3) -> int:
        """How many of the first ``words`` make one entry of ``table`` ("cả xã", "caxa"); 0 if none."""
        for n in range(min(longest, len(words)), 0, -1):
            folded = fold(" ".join(words[:n]))
            if folded in table or folded.replace(" ", "") in table:
                return n
        return 0


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
    the tags when rendering. Every key is defined in exactly one file of ``texts/``
    (:meth:`file_of`): its feature's, or ``shared.yaml``.
    """

    def __init__(self, flat: dict[str, str], files: dict[str, Path]) -> None:
        self._flat = flat
        self._files = files

    def __call__(self, key: str, /, **params: Any) -> Markup:
        template = self._flat[key]
        if not params:
            return Markup(template)
        return Markup(template.format(**{name: escape(value) for name, value in params.items()}))

    def __contains__(self, key: str) -> bool:
        return key in self._flat

    def __iter__(self) -> Iterator[str]:
        return iter(self._flat)

    def file_of(self, key: str) -> Path:
        """The file that defines ``key``."""
        return self._files[key]

    def placeholders(self, key: str) -> frozenset[str]:
        """The names the template of ``key`` is filled with (``{items}``, ``{day}``)."""
        return placeholders(self._flat[key])


def placeholders(template: str) -> frozenset[str]:
    """``"Ngày {day}: {count:>3}"`` -> ``{"day", "count"}``; ValueError for a broken template."""
    names = set()
    for _, field, _, _ in string.Formatter().parse(template):
        if field is not None:
            name = re.split(r"[.\[]", field, maxsplit=1)[0]
            if not name.isidentifier():
                raise ValueError(f"{{{field}}} is not a named placeholder")
            names.add(name)
    return frozenset(names)


class Content:
    """Everything loaded from the content directory, validated."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.catalogue: Catalogue = _load_model(directory / "services.yaml", Catalogue)
        self.limits: Limits = _load_model(directory / "limits.yaml", Limits)
        self.demo: DemoCommune = _load_model(directory / "demo.yaml", DemoCommune)
        self.answers = Answers(_load_model(directory / "answers.yaml", AnswerWords))
        self.vocabulary = Vocabulary(_load_model(directory / "vocabulary.yaml", VocabularyWords))
        self.texts = _load_texts(directory)
        self.guides = _load_guides(directory / GUIDES_DIR)
        if directory.resolve() != DEFAULT_CONTENT_DIR:
            _check_against_shipped(directory, self.texts)

    @cached_property
    def tally(self) -> TallySettings:
        return _load_model(self.directory / "tally.yaml", TallySettings)

    @cached_property
    def cli_help(self) -> CliHelp:
        return _load_model(self.directory / "cli_help.yaml", CliHelp)

    @cached_property
    def logs(self) -> OperatorLogs:
        return _load_model(self.directory / "logs.yaml", OperatorLogs)

    @cached_property
    def lexicon(self) -> ParserLexicon:
        return _load_model(self.directory / "parser.yaml", ParserLexicon)

    @cached_property
    def deadlines(self) -> DeadlineConfig:
        return _load_model(self.directory / "deadlines.yaml", DeadlineConfig)

    def periods(self, commune_code: str | None) -> PeriodScheme:
        """How a commune counts (calendar or cut-off periods, ``tally.yaml``): the one source of
        its periods for deadlines, reminders, confirmations, locks, tallies, charts and exports."""
        return self.tally.scheme(commune_code)

    def planner(self, tz: ZoneInfo) -> Planner:
        """The deadline planner of this content: its rules, and each commune's periods."""
        return Planner(self.deadlines, tz, schemes=self.periods)


def _load_texts(directory: Path) -> Texts:
    """Every ``texts/*.yaml`` (one file per feature, and ``shared.yaml``) merged by key: a key
    defined in two files, or a text in one file and a section in another, is an error."""
    folder = directory / TEXTS_DIR
    paths = sorted(folder.glob("*.yaml"))
    if not paths:
        older = (directory / "texts.yaml").exists()
        raise ContentError(f"{folder}: no texts files" + (" (texts.yaml and texts_*.yaml are now texts/<feature>.yaml)"
                                                           if older else ""))
    flat: dict[str, str] = {}
    files: dict[str, Path] = {}
    words: dict[str, str] = {}
    for path in paths:
        data = _read_yaml(path)
        if not isinstance(data, dict):
            raise ContentError(f"{path}: expected a mapping of sections")
        if CHANNEL_WORDS in data:
            words.update(_channel_words(path, data.pop(CHANNEL_WORDS)))
        for key, text in _flatten(path, "", data):
            if key in flat:
                raise ContentError(f"{path}: field {key!r} is already defined in {files[key]}")
            flat[key], files[key] = text, path
    for key, text in flat.items():  # "{tap}": both words, the adapter keeps its own (bot.domain.messages)
        for name, variant in words.items():
            text = text.replace(f"{{{name}}}", variant)
        flat[key] = text
    for key in flat:
        section = key
        while "." in section:
            section = section.rpartition(".")[0]
            if section in flat:
                raise ContentError(f"{files[key]}: field {key!r} makes {section!r} a section, "
                                   f"but {files[section]} defines it as a text")
    return Texts(flat, files)


def _load_guides(folder: Path) -> Guides:
    """Every ``guides/<topic>.yaml``, the file's name being its topic."""
    paths = sorted(folder.glob("*.yaml"))
    if not paths:
        raise ContentError(f"{folder}: no guides")
    guides = []
    for path in paths:
        data = _read_yaml(path)
        if not isinstance(data, dict):
            raise ContentError(f"{path}: expected a mapping")
        try:
            guides.append(Guide.model_validate({"topic": path.stem, **data}))
        except ValidationError as exc:
            raise ContentError(_validation_message(path, exc)) from exc
    try:
        return Guides(guides)
    except ValueError as exc:
        raise ContentError(f"{folder}: {exc}") from exc


CHANNEL_WORDS = "channel_words"


def _channel_words(path: Path, node: Any) -> dict[str, str]:
    """``channel_words: {tap: {buttons: bấm, typed: gõ}}``: placeholder -> both words."""
    if not isinstance(node, dict):
        raise ContentError(f"{path}: field {CHANNEL_WORDS!r} must map names to buttons/typed words")
    found = {}
    for name, pair in node.items():
        if not (isinstance(pair, dict) and set(pair) == {"buttons", "typed"}
                and all(isinstance(w, str) and w for w in pair.values())):
            raise ContentError(f"{path}: field '{CHANNEL_WORDS}.{name}' needs a 'buttons' and a 'typed' word")
        found[name] = channel_variant(pair["buttons"], pair["typed"])
    return found


def _flatten(path: Path, prefix: str, node: Any) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _flatten(path, f"{prefix}{key}.", value)
        return
    key = prefix[:-1]
    if not isinstance(node, str):
        raise ContentError(f"{path}: field {key!r} must be text")
    try:
        placeholders(node)
    except ValueError as exc:
        raise ContentError(f"{path}: field {key!r}: {exc}") from exc
    yield key, node


def _check_against_shipped(directory: Path, texts: Texts) -> None:
    """A deployment's own content must still say everything the code asks for, and fill its
    templates only with what the code passes."""
    shipped = _load_texts(DEFAULT_CONTENT_DIR)
    for key in shipped:
        if key not in texts:
            where = directory / shipped.file_of(key).relative_to(DEFAULT_CONTENT_DIR)
            raise ContentError(f"{where}: missing text field {key!r}")
        unknown = texts.placeholders(key) - shipped.placeholders(key)
        if unknown:
            known = ", ".join(f"{{{name}}}" for name in sorted(shipped.placeholders(key))) or "nothing"
            raise ContentError(f"{texts.file_of(key)}: field {key!r}: {{{min(unknown)}}} is not filled in "
                               f"(the code fills {known})")


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
        raise ContentError(_validation_message(path, exc)) from exc


def _validation_message(path: Path, exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "(top level)"
    return f"{path}: field {field!r}: {first['msg']}"


def load_content(directory: Path | None = None) -> Content:
    return Content(directory or DEFAULT_CONTENT_DIR)


@lru_cache(maxsize=1)
def shipped_vocabulary() -> Vocabulary:
    """The vocabulary shipped with tcns, for a caller that has no :class:`Content` at hand."""
    return Vocabulary(_load_model(DEFAULT_CONTENT_DIR / "vocabulary.yaml", VocabularyWords))
