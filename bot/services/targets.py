"""Importing a commune's yearly targets from CSV: all lines or none.

Columns (a header line first, comma or semicolon separated, UTF-8 with or without BOM)::

    commune,village,service,year,target
    XA-MY-HIEP,AP-MY-THANH,vneid,2026,80%
    XA-MY-HIEP,AP-MY-PHU,chu_ky_so,2026,120

``service`` is a catalogue code or any of its aliases (``cks``); ``target`` is a share
(``80%``) of what the service counts in the commune (households, or adults for a service
counting people; a service counting sessions takes no share) or a number of it (``120``),
never more than the village has. Every error is reported with its line number and nothing
is imported if there is one.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from bot.content import Content
from bot.domain.messages import plain_text
from bot.domain.tally import TargetRefusal, fit_target, parse_target
from bot.domain.textutil import fold
from storage import UnitOfWork

COLUMNS = ("commune", "village", "service", "year", "target")


@dataclass(frozen=True)
class ImportResult:
    imported: int
    errors: list[str]


def _service_code(content: Content, text: str) -> str | None:
    wanted = fold(text)
    for service in content.catalogue.services:
        if wanted in {fold(a) for a in (service.code, service.short, *service.aliases)}:
            return service.code
    return None


def _base_word(content: Content, counts: str) -> str:
    """What a share of ``counts`` is of: "hộ", "người lớn"."""
    return plain_text(content.texts("targets.base.households" if counts == "households" else "targets.base.adults"))


async def import_targets(uow: UnitOfWork, content: Content, text: str, now: datetime) -> ImportResult:
    def err(key: str, **params: object) -> str:
        return plain_text(content.texts(f"targets.errors.{key}", **params))

    text = text.lstrip("\ufeff")
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    lines = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    if not lines or [fold(c) for c in lines[0]] != list(COLUMNS):
        return ImportResult(0, [err("header", columns=",".join(COLUMNS))])
    errors: list[str] = []
    rows: list[tuple[int, str, int, str, float]] = []
    seen: dict[tuple[int, str, int], int] = {}
    communes: dict[str, object] = {}
    for number, cells in enumerate(lines[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(COLUMNS):
            errors.append(err("columns", line=number, expected=len(COLUMNS), found=len(cells)))
            continue
        commune_code, village_code, service_text, year_text, target_text = (c.strip() for c in cells)
        key = commune_code.upper()
        if key not in communes:
            communes[key] = await uow.units.by_code("commune", key)
        commune = communes[key]
        if commune is None:
            errors.append(err("commune", line=number, value=commune_code))
            continue
        village = await uow.units.by_code("village", village_code.upper(), commune.id)  # type: ignore[attr-defined]
        if village is None:
            errors.append(err("village", line=number, value=village_code, commune=commune_code))
            continue
        service = _service_code(content, service_text)
        if service is None:
            errors.append(err("service", line=number, value=service_text, codes=", ".join(content.catalogue.codes)))
            continue
        if not (year_text.isdigit() and 2000 <= int(year_text) <= 2100):
            errors.append(err("year", line=number, value=year_text))
            continue
        parsed = parse_target(target_text)
        if parsed is None:
            errors.append(err("target", line=number, value=target_text))
            continue
        counts = content.catalogue.unit_of(service, commune.code)  # type: ignore[attr-defined]
        fitted = fit_target(counts, parsed, None, village.households, village.adults)
        if isinstance(fitted, TargetRefusal):
            if fitted.reason == "beyond":
                errors.append(err("beyond", line=number, village=village.name, limit=fitted.limit,
                                  base=_base_word(content, counts), value=target_text))
            else:  # no word after the value here: only a share of sessions compares unlike things
                label = content.catalogue.get(service).short  # type: ignore[union-attr]
                errors.append(err("share_of_sessions", line=number, service=label))
            continue
        parsed = fitted
        ident = (village.id, service, int(year_text))
        if ident in seen:
            errors.append(err("duplicate", line=number, first=seen[ident]))
            continue
        seen[ident] = number
        rows.append((village.id, service, int(year_text), *parsed))
    if not errors and not rows:
        errors.append(err("empty"))
    if errors:
        return ImportResult(0, errors)
    await uow.targets.set_many(rows, now)
    return ImportResult(len(rows), [])
