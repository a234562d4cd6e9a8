"""A named lease in the database: one holder at a time among the workers, with failover.

The holder renews it every ``ttl / 3``; if the holder dies (kill -9, a machine lost), the
lease runs out after ``ttl`` and the next worker that tries takes it: with the default 30 s
and renewals every 10 s, another worker takes over within 40 s (under a minute). A graceful
stop releases it at once. Times come from ``wall`` (seconds since the epoch), so a test can
drive it with a controllable clock.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable

from storage import Database
from storage.sql.leases import WORKER_PREFIX

log = logging.getLogger(__name__)

DEFAULT_TTL = 30.0
SCHEDULER = "scheduler"


def worker_id() -> str:
    """This process's name among the workers (host-independent, unique)."""
    return f"{os.getpid()}-{uuid.uuid4().hex[:8]}"  # the pid first: an operator (or bench/workers.py) finds the process


class Lease:
    def __init__(self, db: Database, name: str, holder: str, ttl: float = DEFAULT_TTL,
                 wall: Callable[[], float] = time.time) -> None:
        self.db, self.name, self.holder, self.ttl, self.wall = db, name, holder, ttl, wall
        self.held = False

    @property
    def renew_every(self) -> float:
        return self.ttl / 3

    async def acquire(self) -> bool:
        """Take or renew the lease; whether this holder has it now."""
        now = self.wall()
        held = await self.db.run(lambda uow: uow.leases.acquire(self.name, self.holder, now, self.ttl))
        if held != self.held:
            log.info("%s lease %s by worker %s", self.name, "taken" if held else "lost", self.holder)
        self.held = held
        return held

    async def release(self) -> None:
        if self.held:
            await self.db.run(lambda uow: uow.leases.release(self.name, self.holder))
            self.held = False


def worker_lease(db: Database, holder: str, wall: Callable[[], float] = time.time) -> Lease:
    """Each live worker's own lease: how many workers are alive (``/metrics``)."""
    return Lease(db, WORKER_PREFIX + holder, holder, wall=wall)


async def live_workers(db: Database, wall: Callable[[], float] = time.time) -> int:
    now = wall()
    return await db.run(lambda uow: uow.leases.live_workers(now))
