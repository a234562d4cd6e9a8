"""Every repository of a unit of work, over one executor: what both backends' units of work
hold. A new repository is added here once, and both backends have it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, get_type_hints

from storage.sql.announcements import AnnouncementRepository
from storage.sql.channels import ChannelRepository
from storage.sql.cycle import CycleRepository
from storage.sql.executor import Executor
from storage.sql.files import FileRepository
from storage.sql.inbox import InboxRepository
from storage.sql.leases import LeaseRepository
from storage.sql.outbox import OutboxRepository
from storage.sql.reminders import ReminderRepository
from storage.sql.repositories import (
    AuditRepository,
    ConversationRepository,
    InviteRepository,
    MemberRepository,
    ReportRepository,
    UnitRepository,
)
from storage.sql.schema import SchemaRepository
from storage.sql.tallies import TallyRepository, TargetRepository


class _Lazy:
    """A repository made on first use, then kept in the unit of work's ``__dict__`` (where
    later reads find it first): a message's unit of work uses a few of the many."""

    def __init__(self, name: str, factory: Callable[[Executor], object]) -> None:
        self._name = name
        self._factory = factory

    def __get__(self, instance: RepositorySet | None, owner: type) -> Any:
        if instance is None:
            return self
        repository = instance.__dict__[self._name] = self._factory(instance._executor)
        return repository


class Repositories(Protocol):
    """The repositories a unit of work offers (``uow.units``, ``uow.reports``…), all working
    in the unit's one transaction. The storage contract's unit of work is this plus its methods."""

    units: UnitRepository
    members: MemberRepository
    invites: InviteRepository
    reports: ReportRepository
    conversations: ConversationRepository
    inbox: InboxRepository
    audit: AuditRepository
    outbox: OutboxRepository
    reminders: ReminderRepository
    tallies: TallyRepository
    targets: TargetRepository
    announcements: AnnouncementRepository
    channels: ChannelRepository
    files: FileRepository
    leases: LeaseRepository
    cycle: CycleRepository
    schema: SchemaRepository  # the tables as data (tcns db copy)


class RepositorySet(Repositories):
    """Every repository of :class:`Repositories`, over one ``executor``: what both backends'
    units of work hold. A repository added to the protocol is offered here too, built on first
    use (a message's unit of work uses 4 of the 17)."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor


for _name, _repository in get_type_hints(Repositories).items():
    setattr(RepositorySet, _name, _Lazy(_name, _repository))
