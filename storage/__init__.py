"""Storage: the contract the bot relies on. Knows nothing of the bot or any channel.

``storage.contract`` (the protocols: :class:`Database`, :class:`UnitOfWork`, read snapshots),
``storage.models`` (plain records), ``storage.sql`` (the repositories, in the SQL every
backend speaks) and one subpackage per backend (``storage.sqlite``), which only
``bot.runtime.backend`` names.
"""

from __future__ import annotations

from storage.contract import Database, DatabaseInUse, ReadSnapshot, SnapshotSource, UnitOfWork, Work
from storage.sql.outbox import encode as encode_outbox

__all__ = ["Database", "DatabaseInUse", "ReadSnapshot", "SnapshotSource", "UnitOfWork", "Work", "encode_outbox"]
