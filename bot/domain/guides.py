"""Guides for the work in the field (``/huongdan``): short step-by-step texts a team member
follows beside a resident. Data in ``content/guides/<topic>.yaml``; this module is their model
and the rule that picks one from what is typed."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.domain.textutil import fold

MAX_STEP_CHARS = 220  # one step reads on a small screen without scrolling
MAX_GUIDE_CHARS = 1200  # a whole guide: one message, about two screens of a cheap phone
MAX_STEPS = 8


class Guide(BaseModel):
    """One guide: a title, a few numbered steps, notes, and where to get help (always last)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: str = Field(pattern=r"^[a-z_]{2,30}$")  # the file's name; "/huongdan vneid"
    order: int = Field(ge=1)  # its place in the list
    title: str = Field(min_length=3, max_length=80)
    button: str = Field(min_length=2, max_length=30)  # its short label in the list of guides
    words: tuple[str, ...] = Field(min_length=1)  # what a member may type to ask for it
    steps: tuple[str, ...] = Field(min_length=2, max_length=MAX_STEPS)
    notes: tuple[str, ...] = ()
    help: str = Field(min_length=10, max_length=MAX_STEP_CHARS)  # where to get help

    @model_validator(mode="after")
    def _fits_a_phone(self) -> Guide:
        for n, step in enumerate((*self.steps, *self.notes)):
            if len(step) > MAX_STEP_CHARS:
                raise ValueError(f"step {n + 1} is {len(step)} characters (at most {MAX_STEP_CHARS})")
        if len(self.plain()) > MAX_GUIDE_CHARS:
            raise ValueError(f"the guide is {len(self.plain())} characters (at most {MAX_GUIDE_CHARS})")
        return self

    def plain(self) -> str:
        """The guide as a person reads it (without markup), for the length check."""
        lines = [self.title, *(f"{n}. {step}" for n, step in enumerate(self.steps, 1)), *self.notes, self.help]
        return "\n".join(lines)


class Guides:
    """Every guide, in their order; :meth:`find` reads what a member typed."""

    def __init__(self, guides: list[Guide]) -> None:
        self.all = tuple(sorted(guides, key=lambda g: (g.order, g.topic)))
        self._words: dict[str, Guide] = {}
        for guide in self.all:
            for word in (guide.topic, guide.topic.replace("_", " "), *guide.words):
                folded = fold(word)
                other = self._words.setdefault(folded, guide)
                if other is not guide:
                    raise ValueError(f"{word!r} names both guide {other.topic!r} and {guide.topic!r}")

    def __len__(self) -> int:
        return len(self.all)

    def by_topic(self, topic: str) -> Guide | None:
        return next((g for g in self.all if g.topic == topic), None)

    def find(self, typed: str) -> Guide | None:
        """The guide a typed topic names: a topic or one of its words, with or without
        diacritics ("chu ky so", "SmartCA"); a number picks it by its place in the list."""
        folded = fold(typed).strip()
        if folded.isdigit() and 1 <= int(folded) <= len(self.all):
            return self.all[int(folded) - 1]
        if folded in self._words:
            return self._words[folded]
        if len(folded) < 3:
            return None
        # A few words more or less ("giả danh công an", "smart"): one guide only, or none.
        hits = {g.topic: g for word, g in self._words.items()
                if (len(word) >= 3 and word in folded) or folded in word}
        return next(iter(hits.values())) if len(hits) == 1 else None
