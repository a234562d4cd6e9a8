"""Finding a place (a village, a commune) in what people type: pure matching, no storage.

A place is named by its code (``AP-MY-PHU``) or its name (``Ấp Mỹ Phú``), with or without
diacritics, with or without the word its kind starts with ("thôn", "ấp", "khu phố", "bản",
"tổ dân phố"...: ``prefixes``), or by the start of a word of its name when only one place
has it ("phú" for Mỹ Phú, "tân" for Tân Thuận). What matches several places is answered
with those places (:attr:`Match.ambiguous`), never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from bot.domain.textutil import fold

MIN_LOOSE = 2  # a start of a word must be at least this long to name a place
MAX_PLACE_WORDS = 7  # "Tổ dân phố Khu Phố Ba Mươi Hai": the longest name looked for in a line


class Named(Protocol):
    @property
    def code(self) -> str: ...

    @property
    def name(self) -> str: ...


P = TypeVar("P", bound=Named)


@dataclass(frozen=True)
class Match(Generic[P]):
    places: tuple[P, ...] = ()  # one: found; several: ambiguous; none: nothing matches
    words: int = 0  # how many of the words given it took (``PlaceIndex.leading``)
    exact: bool = False  # the code or the whole name (with or without its prefix), not a start of it

    @property
    def found(self) -> P | None:
        return self.places[0] if len(self.places) == 1 else None

    @property
    def ambiguous(self) -> bool:
        return len(self.places) > 1


class PlaceIndex(Generic[P]):
    """The places one command may name, ready to match what is typed."""

    def __init__(self, places: Iterable[P], prefixes: Iterable[str]) -> None:
        self.places: tuple[P, ...] = tuple(places)
        self._prefixes = tuple(sorted({fold(p) for p in prefixes if fold(p)}, key=len, reverse=True))
        self._forms: list[tuple[P, frozenset[str], str]] = []
        for place in self.places:
            name = fold(place.name)
            bare = self.bare(name)
            code = fold(place.code)
            self._forms.append((place, frozenset({name, bare, code, code.replace("-", " ").replace("_", " ")}), bare))

    def bare(self, folded: str) -> str:
        """A folded name without the word of its kind: "ap my phu" -> "my phu"."""
        for prefix in self._prefixes:
            if folded.startswith(prefix + " "):
                return folded[len(prefix) + 1:].strip()
        return folded

    def is_prefix(self, text: str) -> bool:
        """Is ``text`` only the word of a kind ("ấp", "Thôn")? It names no place on its own."""
        return fold(text) in self._prefixes

    def match(self, text: str) -> Match[P]:
        """The places ``text`` (all of it) names."""
        query = fold(text)
        bare = self.bare(query)
        if not bare or bare in self._prefixes:
            return Match()
        exact = tuple(p for p, forms, _ in self._forms if query in forms or bare in forms)
        if exact:
            return Match(exact, exact=True)
        if len(bare) < MIN_LOOSE:
            return Match()
        return Match(tuple(p for p, forms, name in self._forms
                           if f" {bare}" in f" {name}" or any(f.startswith(bare) for f in forms)))

    def leading(self, words: Sequence[str], loose: bool = True) -> Match[P]:
        """The place the first words of ``words`` name, and how many words it took: the longest
        run naming one place exactly; else (``loose``) the longest naming one place by the start
        of its name; else what the first word names (several places, or none)."""
        return self._span(words, loose, lambda n: words[:n])

    def trailing(self, words: Sequence[str], loose: bool = True) -> Match[P]:
        """Like :meth:`leading`, from the last words: ``/thang 10 mỹ phú``."""
        return self._span(words, loose, lambda n: words[len(words) - n:])

    def _span(self, words: Sequence[str], loose: bool, take) -> Match[P]:  # type: ignore[no-untyped-def]
        longest = min(MAX_PLACE_WORDS, len(words))
        for n in range(longest, 0, -1):
            found = self.match(" ".join(take(n)))
            if found.exact and found.found is not None:
                return Match(found.places, n, exact=True)
        if not loose:
            return Match()
        first: Match[P] = Match()
        for n in range(longest, 0, -1):
            found = self.match(" ".join(take(n)))
            if found.found is not None:
                return Match(found.places, n, found.exact)
            if found.places and (not first.places or n < first.words):
                first = Match(found.places, n, found.exact)
        return first
