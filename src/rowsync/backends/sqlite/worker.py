"""SQLite: the event worker (one writer at a time, leases, ``DELETE ... RETURNING``)."""

from __future__ import annotations

from rowsync.backends.base import BaseBackend


class SQLiteWorker(BaseBackend):
    """SQLite's worker facts."""

    @property
    def worker_delete_returning(self) -> bool:
        """Return whether SQLite has ``RETURNING`` (3.35+, https://www.sqlite.org/lang_returning.html).

        The ``DELETE`` is then the transaction's first statement and takes the write lock
        at once.
        """
        return bool(self.connection.features.can_return_columns_from_insert)
