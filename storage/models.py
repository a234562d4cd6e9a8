"""Plain records that cross the storage boundary. No database or channel types here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

ROLES = ("member", "leader", "staff", "province_staff", "admin")


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


# Tallies and targets -----------------------------------------------------------------------
SCOPE_KINDS = ("village", "commune", "province")
TARGET_KINDS = ("percent", "percent_adults", "absolute")


class VillageServiceTotal(NamedTuple):
    """A tuple: a province's tally makes tens of thousands of them (a frozen dataclass costs
    three times as much to create)."""

    village_id: int
    service: str  # a catalogue code, or NONE_SERVICE
    households: int
    reports: int


@dataclass(frozen=True)
class DayTotal:
    village_id: int
    service: str
    day: date
    households: int


@dataclass(frozen=True)
class DetailRow:
    report_id: int
    occurred_on: date
    village_id: int
    village: str
    service: str
    count: int
    source: str
    created_at: datetime
    voided_at: datetime | None
    void_reason: str | None
    member_name: str | None  # the member the report is for (a proxy report: not who typed it)
    entered_by_name: str | None = None  # who typed a proxy report or a correction (None: the member)
    voided_by_name: str | None = None
    supersedes: int | None = None  # a correction: the report it replaces
    entered_by: int | None = None
    member_id: int | None = None


@dataclass(frozen=True)
class Target:
    unit_id: int
    service: str
    year: int
    kind: str  # percent | absolute
    value: float

    def households(self, denominator: int | None, adults: int | None = None) -> int | None:
        """The target as a number (None if a percentage has no denominator): a share of the
        unit's households (``percent``) or adults (``percent_adults``), or ``absolute``."""
        if self.kind == "absolute":
            return round(self.value)
        base = adults if self.kind == "percent_adults" else denominator
        if base is None:
            return None
        return round(self.value * base / 100)


# Reminders ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Person:
    """A member reachable on one channel (active member, active identity)."""

    member_id: int
    name: str | None
    role: str
    unit_id: int
    channel: str
    chat_id: str


@dataclass(frozen=True)
class CustomDeadline:
    id: int
    commune_id: int
    name: str
    starts_on: date
    due_on: date


# The outbox --------------------------------------------------------------------------------
STATUSES = ("pending", "sending", "sent", "blocked", "failed", "uncertain", "skipped", "expired")


@dataclass(frozen=True)
class NewMessage:
    rule: str
    period: str
    step: str
    member_id: int | None
    channel: str
    chat_id: str
    payload: dict[str, Any]
    due_at: datetime
    expires_at: datetime | None = None
    village_id: int | None = None  # with covers: skipped if this village reports meanwhile
    covers_start: date | None = None
    covers_end: date | None = None

    @property
    def recipient(self) -> str:
        return f"{self.member_id if self.member_id is not None else self.chat_id}/{self.channel}"


@dataclass(frozen=True)
class OutboxMessage:
    id: int
    rule: str
    period: str
    step: str
    recipient: str
    member_id: int | None
    channel: str
    chat_id: str
    payload: dict[str, Any]
    due_at: datetime
    status: str
    attempts: int


# The inbox ---------------------------------------------------------------------------------
MAX_ATTEMPTS = 3  # an update whose processing failed this many times is set aside, not retried again


@dataclass(frozen=True)
class StoredUpdate:
    """A waiting update as stored: the channel's raw payload (JSON text) and its arrival order."""

    channel: str
    key: str
    payload: str
    seq: int
    attempts: int = 0


@dataclass(frozen=True)
class StoredFile:
    """A file published behind a signed URL (``tcns serve``'s ``GET /files/<token>``)."""

    id: int
    name: str
    mime: str
    data: bytes = field(repr=False)
    expires_at: datetime


# Announcements -----------------------------------------------------------------------------
RULE = "announce"
COPY_STEP = "msg"
SUMMARY_STEP = "summary"
FINAL = ("sent", "blocked", "failed", "uncertain", "skipped", "expired")


@dataclass(frozen=True)
class OpenAnnouncement:
    id: int
    commune_id: int
    author_id: int
    author_channel: str
    author_chat: str
    recipients: int


@dataclass(frozen=True)
class FanOut:
    """An announcement whose copies are not all queued yet: the rest go to the recipients of
    ``scope_unit_id`` (the commune or one village) with a member id above ``queued_after``."""

    id: int
    commune_id: int
    scope_unit_id: int
    author_id: int
    text: str
    queued_after: int


# The reporting cycle ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Confirmation:
    """A village's figures for a period, confirmed by its leader (chốt số liệu thôn)."""

    id: int
    commune_id: int
    village_id: int
    period: str  # the period key ("2026-12", "2026-12k15", "2026-Q4")
    starts_on: date
    ends_on: date
    confirmed_by: int
    confirmed_at: datetime
    figures: dict[str, int]  # service -> count, as shown when confirmed ({} : "không có")
    on_time: bool
    reopened_at: datetime | None = None  # a later change to the period reopened it
    reopened_by: int | None = None
    reopen_reason: str | None = None


@dataclass(frozen=True)
class PeriodLock:
    """A closed period of a commune (khóa kỳ): nothing dated in it changes."""

    commune_id: int
    period: str
    starts_on: date
    ends_on: date
    closed_by: int | None  # None: closed by itself, some days after its deadline
    closed_at: datetime
