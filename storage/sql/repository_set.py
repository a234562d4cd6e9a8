"""Every repository of a unit of work, over one executor: what both backends' units of work
hold. A new repository is added here once, and both backends have it."""

from __future__ import annotations

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


class RepositorySet:
    """The repositories a unit of work offers (``uow.units``, ``uow.reports``…), all working
    in the unit's one transaction through ``executor``."""

    def __init__(self, executor: Executor) -> None:
        self.units = UnitRepository(executor)
        self.members = MemberRepository(executor)
        self.invites = InviteRepository(executor)
        self.reports = ReportRepository(executor)
        self.conversations = ConversationRepository(executor)
        self.inbox = InboxRepository(executor)
        self.audit = AuditRepository(executor)
        self.outbox = OutboxRepository(executor)
        self.reminders = ReminderRepository(executor)
        self.tallies = TallyRepository(executor)
        self.targets = TargetRepository(executor)
        self.announcements = AnnouncementRepository(executor)
        self.channels = ChannelRepository(executor)
        self.files = FileRepository(executor)
        self.leases = LeaseRepository(executor)
        self.cycle = CycleRepository(executor)
        self.schema = SchemaRepository(executor)  # the tables as data (tcns db copy)
