"""SQLite: FK actions fire child triggers; triggers are lost when Django rebuilds a table.

The backend is composed of one part per concern: :mod:`.ondelete`, :mod:`.capture`,
:mod:`.inbox`, :mod:`.worker`; :mod:`.guards` (with :mod:`.schema`) keeps rowsync's
triggers through Django's table rebuilds and flushes.
"""

from __future__ import annotations

from typing import ClassVar

from rowsync.backends.sqlite.guards import SQLiteSchemaGuards
from rowsync.backends.sqlite.inbox import SQLiteInbox
from rowsync.backends.sqlite.ondelete import SQLiteOnDelete
from rowsync.backends.sqlite.worker import SQLiteWorker

__all__ = ["SQLiteBackend"]


class SQLiteBackend(SQLiteOnDelete, SQLiteInbox, SQLiteWorker, SQLiteSchemaGuards):
    """SQLite 3.37+ with ``PRAGMA foreign_keys=ON`` (Django's default)."""

    vendor: ClassVar[str] = "sqlite"
    fk_actions_fire_triggers: ClassVar[bool] = True
    # DELETE ... RETURNING: SQLite 3.35+, rowsync needs 3.37+ (sqlite.org/lang_returning.html).
    can_return_deleted_rows: ClassVar[bool] = True
