"""The service catalogue: what a team helps residents with (``content/services.yaml``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.domain.textutil import fold


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Service(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z_]{1,30}$")
    label: str = Field(min_length=1, max_length=60)
    short: str = Field(min_length=1, max_length=20)
    aliases: tuple[str, ...] = Field(min_length=1)

    @field_validator("aliases")
    @classmethod
    def _non_empty_aliases(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for alias in value:
            if not fold(alias):
                raise ValueError("an alias is empty")
        return value


class Catalogue(_Strict):
    services: tuple[Service, ...] = Field(min_length=1)

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

    def get(self, code: str) -> Service | None:
        return next((s for s in self.services if s.code == code), None)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(s.code for s in self.services)
