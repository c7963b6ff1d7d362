"""PostgreSQL: FK actions fire child triggers, LISTEN/NOTIFY and SKIP LOCKED are available.

The backend is composed of one part per concern: :mod:`.ondelete`, :mod:`.capture`,
:mod:`.inbox`, :mod:`.worker`.
"""

from __future__ import annotations

from typing import ClassVar

from rowsync.backends.postgresql.capture import PostgreSQLCapture
from rowsync.backends.postgresql.inbox import PostgreSQLInbox
from rowsync.backends.postgresql.ondelete import PostgreSQLOnDelete
from rowsync.backends.postgresql.worker import PostgreSQLListener, PostgreSQLWorker

__all__ = ["PostgreSQLBackend", "PostgreSQLListener"]


class PostgreSQLBackend(PostgreSQLOnDelete, PostgreSQLCapture, PostgreSQLInbox, PostgreSQLWorker):
    """PostgreSQL 14+."""

    vendor: ClassVar[str] = "postgresql"
    fk_actions_fire_triggers: ClassVar[bool] = True
    # DELETE ... RETURNING (https://www.postgresql.org/docs/current/sql-delete.html).
    can_return_deleted_rows: ClassVar[bool] = True
