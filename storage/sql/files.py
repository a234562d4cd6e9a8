"""Files published behind signed, expiring URLs (``GET /files/<token>`` of ``tcns serve``).

The bytes live in the database, not on a disk of one worker: whichever worker the channel's
download reaches serves them. A row is deleted once expired (:meth:`FileRepository.prune`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from storage.models import StoredFile
from storage.sql.repositories import _Repo, ts


def _utc(value: datetime) -> str:
    return ts(value.astimezone(UTC))


class FileRepository(_Repo):
    async def put(self, name: str, mime: str, data: bytes, now: datetime, expires_at: datetime) -> int:
        """Store a file until ``expires_at``; returns its id."""
        return await self.db.new_id(
            "INSERT INTO files (name, mime, data, created_at, expires_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
            (name, mime, data, _utc(now), _utc(expires_at)),
        )

    async def get(self, file_id: int, now: datetime) -> StoredFile | None:
        """The file, unless it expired (or never was)."""
        row = await self.db.fetchone(
            "SELECT name, mime, data, expires_at FROM files WHERE id = ? AND expires_at > ?", (file_id, _utc(now))
        )
        if row is None:
            return None
        return StoredFile(file_id, row[0], row[1], bytes(row[2]), datetime.fromisoformat(row[3]))

    async def prune(self, now: datetime) -> int:
        """Delete the files whose time is over; returns how many."""
        return await self.db.execute("DELETE FROM files WHERE expires_at <= ?", (_utc(now),))
