"""The event worker: how it claims, takes and deletes events, and how it is woken up."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol

from rowsync.backends.base.core import BackendCore


class WorkerListener(Protocol):
    """A wake-up channel for an idle event worker (PostgreSQL ``LISTEN``)."""

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; return whether new events were announced."""

    def close(self) -> None:
        """Release the channel's connection."""


class WorkerMixin(BackendCore):
    """Flags and SQL of the event worker (``rowsync.events.claim``, ``rowsync.events.worker``)."""

    #: Does the engine have ``LISTEN/NOTIFY``-style wake-ups for workers?
    supports_notify: ClassVar[bool] = False
    #: Does ``SELECT ... FOR UPDATE SKIP LOCKED`` work?
    supports_skip_locked: ClassVar[bool] = False
    #: Can an ``UPDATE`` pick its rows with a ``LIMIT``ed subquery on its own table?
    #: (MySQL/MariaDB: "This version ... doesn't yet support 'LIMIT & IN/ALL/ANY/SOME
    #: subquery'", https://dev.mysql.com/doc/refman/8.0/en/subquery-restrictions.html)
    worker_lease_update_subquery: ClassVar[bool] = True

    @property
    def worker_skip_locked(self) -> bool:
        """Return whether workers claim events with ``SELECT ... FOR UPDATE SKIP LOCKED``.

        Django knows the server version (MariaDB has SKIP LOCKED from 10.6, MySQL from 8.0).
        """
        features = self.connection.features
        return self.supports_skip_locked and bool(features.has_select_for_update_skip_locked)

    def worker_listener(self) -> WorkerListener | None:
        """Return a wake-up channel for idle workers, or None when they must poll."""
        return None

    def worker_refill_sql(self) -> list[str]:
        """Return statements that start a worker's refill of its queue from the inboxes.

        Run first in the refill's transaction (never on SQLite, whose first statement
        must be the write).
        """
        return []

    def worker_refill_lock_sql(self) -> str | None:
        """Return a query whose one boolean says whether this refill may move inbox rows.

        Run in the refill's transaction, after :meth:`worker_refill_sql`; a lock it takes
        lasts until the transaction ends. None: every worker moves (the engine serializes
        the moves itself, or has no inboxes).
        """
        return None

    def worker_take_planner_sql(self) -> tuple[list[str], list[str]]:
        """Return statements to run before and after the take (planner settings)."""
        return [], []

    #: Must delivered events be deleted one ``WHERE id = %s`` at a time?
    worker_delete_one_by_one: ClassVar[bool] = False

    @property
    def worker_delete_returning(self) -> bool:
        """Return whether ``DELETE ... WHERE id IN (SELECT ... LIMIT n) RETURNING`` works."""
        return False

    def worker_take_sql(self, table: str, pk: str, columns: Sequence[str], subquery: str) -> str:
        """Return the statement that deletes the rows ``subquery`` selects, returning ``columns``.

        Args:
            table: The event table.
            pk: Its primary key column.
            columns: Columns to return, in order.
            subquery: ``SELECT pk FROM table ... LIMIT n`` (may lock: ``FOR UPDATE``).
        """
        q = self.quote_name
        returning = ", ".join(q(c) for c in columns)
        return f"DELETE FROM {q(table)} WHERE {q(pk)} IN ({subquery}) RETURNING {returning}"

    def worker_delete_sql(self, table: str, pk: str) -> str:
        """Return the statement deleting one delivered event (parameter: its id).

        Used where :attr:`worker_delete_one_by_one` is True, once per event.
        """
        q = self.qn
        return f"DELETE FROM {q(table)} WHERE {q(pk)} = %s"
