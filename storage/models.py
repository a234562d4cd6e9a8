"""Plain records that cross the storage boundary. No database or channel types here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

ROLES = ("member", "leader", "staff", "admin")


@dataclass(frozen=True)
class Unit:
    id: int
    kind: str  # province | commune | village
    parent_id: int | None
    code: str
    name: str
    households: int | None = None
    adults: int | None = None
    active: bool = True


@dataclass(frozen=True)
class Member:
    id: int
    name: str | None
    role: str
    unit_id: int
    status: str = "active"

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True)
class Invite:
    code: str
    unit_id: int
    role: str
    expires_at: datetime
    max_uses: int
    uses: int
    revoked_at: datetime | None = None

    def usable(self, now: datetime) -> bool:
        return self.revoked_at is None and self.uses < self.max_uses and now < self.expires_at


@dataclass(frozen=True)
class NewReport:
    service: str
    count: int


@dataclass(frozen=True)
class Report:
    id: int
    batch_id: str
    member_id: int
    village_id: int
    service: str
    count: int
    occurred_on: date
    created_at: datetime
    source: str
    voided_at: datetime | None = None
    voided_by: int | None = None
    void_reason: str | None = None
    supersedes: int | None = None  # set by a correction (/suabc): the voided report this one replaces


@dataclass
class Conversation:
    """Where a chat is in a flow. Stored, never kept in process memory."""

    flow: str = ""
    step: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    version: int = 0

    @property
    def idle(self) -> bool:
        return not self.flow


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    action: str
    object: str
    detail: dict[str, Any]
    actor_name: str | None
    actor_id: int | None
