"""Invite codes: short, unambiguous on a phone keyboard (no 0/O, 1/I)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from storage import UnitOfWork
from storage.models import Invite

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6


def new_code(length: int = CODE_LENGTH) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


async def create_invite(
    uow: UnitOfWork,
    unit_id: int,
    role: str,
    now: datetime,
    valid_for: timedelta = timedelta(days=7),
    max_uses: int = 1,
    created_by: int | None = None,
) -> Invite:
    for _ in range(10):
        code = new_code()
        if await uow.invites.get(code) is None:
            return await uow.invites.add(code, unit_id, role, now + valid_for, max_uses, now, created_by)
    raise RuntimeError("could not find a free invite code")
