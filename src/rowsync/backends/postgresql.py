"""PostgreSQL: FK actions fire child triggers, LISTEN/NOTIFY and SKIP LOCKED are available."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.backends.base.base import BaseDatabaseWrapper

from rowsync.backends.base import BaseBackend, WorkerListener


class PostgreSQLBackend(BaseBackend):
    """PostgreSQL 14+."""

    vendor: ClassVar[str] = "postgresql"
    fk_actions_fire_triggers: ClassVar[bool] = True
    supports_notify: ClassVar[bool] = True
    supports_skip_locked: ClassVar[bool] = True

    # --- worker ---
    #: ``NOTIFY`` channel that announces new events to idle workers.
    worker_channel: ClassVar[str] = "rowsync_events"

    def worker_listener(self) -> WorkerListener | None:
        """Return a ``LISTEN`` channel on a connection of its own.

        A separate connection keeps the ``LISTEN`` alive when Django closes or replaces
        the worker's own connection (``CONN_MAX_AGE``, errors).
        """
        return PostgreSQLListener(self.connection, self.worker_channel)

    def worker_notify_sql(self) -> str:
        """Return the statement that wakes up idle workers (sent on commit only).

        PostgreSQL delivers a ``NOTIFY`` when the transaction commits, and drops it on
        rollback (https://www.postgresql.org/docs/current/sql-notify.html).
        """
        return f"SELECT pg_notify('{self.worker_channel}', '')"

    # --- schema objects ---
    def installed_objects_sql(self) -> str:
        """Return a query listing ``(name, table)`` of rowsync's triggers and constraints."""
        return (
            "SELECT t.tgname, c.relname FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE NOT t.tgisinternal AND t.tgname LIKE 'rowsync\\_%' "
            "AND n.nspname = current_schema() "
            "UNION ALL "
            "SELECT k.conname, c.relname FROM pg_constraint k "
            "JOIN pg_class c ON c.oid = k.conrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE k.conname LIKE 'rowsync\\_%' AND n.nspname = current_schema()"
        )


class PostgreSQLListener:
    """``LISTEN`` on a channel with psycopg 3's ``Connection.notifies()``.

    Args:
        connection: The Django connection whose settings the listener copies.
        channel: The channel name.
    """

    def __init__(self, connection: BaseDatabaseWrapper, channel: str) -> None:
        params = connection.get_connection_params()
        raw: Any = connection.get_new_connection(params)
        raw.autocommit = True
        raw.execute(f"LISTEN {connection.ops.quote_name(channel)}")
        self._raw = raw

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds for a notification; swallow the ones queued behind.

        Uses ``notifies(timeout=, stop_after=)`` (psycopg 3.2+,
        https://www.psycopg.org/psycopg3/docs/advanced/async.html#asynchronous-notifications).
        """
        got = False
        for _ in self._raw.notifies(timeout=max(timeout, 0.0), stop_after=1):
            got = True
        if got:
            # Many committed transactions may have notified: one pass claims them all.
            for _ in self._raw.notifies(timeout=0.0):
                pass
        return got

    def close(self) -> None:
        """Close the listening connection."""
        self._raw.close()
