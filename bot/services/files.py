"""Files behind short-lived signed URLs, for channels that take a file by URL only (Zalo's
``sendPhoto``): a chart or an XLSX is stored in the database (every worker can serve it) and
``tcns serve`` hands it out at ``GET /files/<token>/<name>`` until the token expires.

The token is ``<file id>-<expiry, epoch seconds>-<signature>``: an HMAC-SHA256 of the id and
the expiry under ``TCNS_FILE_SECRET`` (the same in every worker), compared in constant time.
A tampered token, an expired one or a file already pruned gets a 404; nothing else tells
them apart, and the URL leaks nothing but the file's id.

Enabled when both ``TCNS_PUBLIC_URL`` and ``TCNS_FILE_SECRET`` are set (the runtime builds
one :class:`FilePublisher`, ``runtime.files``; None otherwise). A channel adapter calls::

    url = await files.publish(chart.data, "bieudo.png")            # default TTL: 15 minutes
    url = await files.publish(xlsx, "tonghop.xlsx", ttl=timedelta(hours=1))
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import mimetypes
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from bot.domain.clock import Clock
from storage import Database
from storage.models import StoredFile

DEFAULT_TTL = timedelta(minutes=15)
MAX_TTL = timedelta(days=1)
ROUTE = "/files/"


class FilePublisher:
    """Publishes bytes at a signed URL and resolves such URLs' tokens back to the file."""

    def __init__(self, db: Database, clock: Clock, public_url: str, secret: str) -> None:
        if not secret:
            raise ValueError("a file URL secret is required")
        self.db, self.clock = db, clock
        self.public_url = public_url.rstrip("/")
        self._key = secret.encode()

    async def publish(self, data: bytes, name: str, ttl: timedelta = DEFAULT_TTL, mime: str | None = None) -> str:
        """Store ``data`` as ``name`` for ``ttl`` (at most a day); returns its public URL."""
        ttl = min(ttl, MAX_TTL)
        now = self.clock.now()
        expires = now + ttl
        mime = mime or mimetypes.guess_type(name)[0] or "application/octet-stream"

        async def store(uow) -> int:  # type: ignore[no-untyped-def]
            await uow.files.prune(now)  # expired files go as new ones come (an indexed delete)
            return await uow.files.put(name, mime, data, now, expires)

        file_id = await self.db.run(store)
        return f"{self.public_url}{ROUTE}{self.token(file_id, expires)}/{quote(name)}"

    def token(self, file_id: int, expires: datetime) -> str:
        stamp = int(expires.timestamp())
        return f"{file_id}-{stamp}-{self._signature(file_id, stamp)}"

    def _signature(self, file_id: int, stamp: int) -> str:
        digest = hmac.new(self._key, f"{file_id}.{stamp}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def verify(self, token: str, now: datetime | None = None) -> int | None:
        """The file id a token names, if its signature holds and it has not expired; else None."""
        parts = token.split("-", 2)
        if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
            return None
        file_id, stamp = int(parts[0]), int(parts[1])
        if not hmac.compare_digest(parts[2].encode(), self._signature(file_id, stamp).encode()):
            return None
        now = now or self.clock.now()
        if datetime.fromtimestamp(stamp, UTC) <= now:
            return None
        return file_id

    async def open(self, token: str) -> StoredFile | None:
        """The file behind a token; None if the token is forged, expired or the file is gone."""
        now = self.clock.now()
        file_id = self.verify(token, now)
        if file_id is None:
            return None
        return await self.db.run(lambda uow: uow.files.get(file_id, now))
