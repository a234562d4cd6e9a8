"""The service catalogue: what a team helps residents with (``content/services.yaml``),
and what each service counts: households (hộ, the default), people (người) or sessions
(lượt), per service and overridable per commune.

A count is only ever added to counts of the same kind, and compared with a denominator of
the same kind: households with the village's households, people with its adults; sessions
have no denominator (a number can be a target, a share cannot).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.domain.textutil import fold

Counts = Literal["households", "people", "sessions"]
COUNTS: tuple[Counts, ...] = ("households", "people", "sessions")  # the order totals are shown in
Denominator = Literal["households", "adults"]
# What a count of each kind is a share of (a unit's ``households`` or ``adults``); None: no share.
DENOMINATOR: dict[Counts, Denominator | None] = {"households": "households", "people": "adults",
                                                 "sessions": None}


def denominator(counts: Counts, households: int | None, adults: int | None) -> int | None:
    """The figure a count of ``counts`` is a share of, for a unit with these figures
    (None: sessions, or a figure not entered yet)."""
    kind = DENOMINATOR[counts]
    value = households if kind == "households" else adults if kind == "adults" else None
    return value or None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Service(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z_]{1,30}$")
    label: str = Field(min_length=1, max_length=60)
    short: str = Field(min_length=1, max_length=20)
    aliases: tuple[str, ...] = Field(min_length=1)
    counts: Counts = "households"

    @field_validator("aliases")
    @classmethod
    def _non_empty_aliases(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for alias in value:
            if not fold(alias):
                raise ValueError("an alias is empty")
        return value


class UnitWords(_Strict):
    """How a kind of count is written: ``word`` after a number ("5 hộ"), ``name`` as a column's
    unit ("Đơn vị tính: Hộ")."""

    word: str = Field(min_length=1, max_length=20)
    name: str = Field(min_length=1, max_length=30)


_DEFAULT_UNITS = {"households": UnitWords(word="hộ", name="Hộ"), "people": UnitWords(word="người", name="Người"),
                  "sessions": UnitWords(word="lượt", name="Lượt")}


class Catalogue(_Strict):
    services: tuple[Service, ...] = Field(min_length=1)
    units: dict[Counts, UnitWords] = Field(default_factory=lambda: dict(_DEFAULT_UNITS))
    # A commune that counts a service differently: commune code -> service code -> counts.
    counts_by_commune: dict[str, dict[str, Counts]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _every_unit_worded(self) -> Catalogue:
        missing = [kind for kind in COUNTS if kind not in self.units]
        if missing:
            raise ValueError(f"units: {missing[0]} has no words")
        for commune, overrides in self.counts_by_commune.items():
            for code in overrides:
                if self.get(code) is None:
                    raise ValueError(f"counts_by_commune.{commune}: {code!r} is not a service code")
        return self

    @model_validator(mode="after")
    def _unique(self) -> Catalogue:
        codes = [s.code for s in self.services]
        if len(set(codes)) != len(codes):
            raise ValueError("service codes must be unique")
        seen: dict[str, str] = {}
        for service in self.services:
            for alias in (*service.aliases, service.code):
                key = fold(alias)
                if seen.get(key, service.code) != service.code:
                    raise ValueError(f"alias {alias!r} is used by {seen[key]} and {service.code}")
                seen[key] = service.code
        return self

    @cached_property
    def _by_code(self) -> dict[str, Service]:
        return {s.code: s for s in self.services}

    def get(self, code: str) -> Service | None:
        return self._by_code.get(code)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(s.code for s in self.services)

    def unit_of(self, service: str, commune: str | None = None) -> Counts:
        """What ``service`` counts in the commune with code ``commune`` (the catalogue's
        default for None or a commune without an override)."""
        override = self.counts_by_commune.get(commune or "", {}).get(service)
        if override is not None:
            return override
        found = self.get(service)
        return found.counts if found is not None else "households"

    def units_of(self, services: tuple[str, ...], commune: str | None = None) -> dict[str, Counts]:
        """service -> what it counts in ``commune``, for each of ``services``."""
        return {code: self.unit_of(code, commune) for code in services}

    def per_kind(self, totals: Mapping[str, int], commune: str | None = None) -> list[tuple[Counts, int]]:
        """service -> count summed per kind of count (households, people, sessions, in that
        order), never across kinds; services outside the catalogue and zero sums left out."""
        by_kind: dict[Counts, int] = {}
        for code, count in totals.items():
            if self.get(code) is not None and count:
                kind = self.unit_of(code, commune)
                by_kind[kind] = by_kind.get(kind, 0) + count
        return [(kind, by_kind[kind]) for kind in COUNTS if by_kind.get(kind)]

    def word(self, counts: Counts) -> str:
        """The word after a number of this kind: "hộ", "người", "lượt"."""
        return self.units[counts].word

    def unit_word(self, service: str, commune: str | None = None) -> str:
        """The word after a number of ``service`` in ``commune``: "5 người" for VNeID."""
        return self.word(self.unit_of(service, commune))

    def unit_name(self, service: str, commune: str | None = None) -> str:
        """The unit of ``service`` as a column's "Đơn vị tính": "Hộ", "Người", "Lượt"."""
        return self.units[self.unit_of(service, commune)].name
