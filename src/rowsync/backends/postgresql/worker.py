"""PostgreSQL: the event worker (``DELETE ... RETURNING``, ``SKIP LOCKED``, ``LISTEN``)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.backends.base.base import BaseDatabaseWrapper

from rowsync.backends.base import BaseBackend, WorkerListener

#: ``NOTIFY`` channel that announces new events to idle workers.
CHANNEL = "rowsync_events"

#: Advisory lock key of the workers' inbox refill (``'rowsync'`` in ASCII, then ``1``).
REFILL_LOCK = 0x726F7773796E6301


class PostgreSQLWorker(BaseBackend):
    """PostgreSQL's worker facts and SQL."""

    supports_notify: ClassVar[bool] = True
    supports_skip_locked: ClassVar[bool] = True

    @property
    def worker_delete_returning(self) -> bool:
        """Return True: ``DELETE ... RETURNING`` around a ``SKIP LOCKED`` subquery.

        The classic queue pattern
        (https://www.postgresql.org/docs/current/sql-select.html#SQL-FOR-UPDATE-SHARE).
        """
        return True

    def worker_refill_sql(self) -> list[str]:
        """Mark the transaction as a refill: the event table's trigger then sends no ``NOTIFY``.

        The worker delivers what it moves itself, and rows nobody claims woke the workers
        when the capture trigger wrote them; a refill that moved nothing (an idle worker)
        must not wake that same worker again (migration ``rowsync.0006``).

        The refill also commits without waiting for its WAL flush
        (``synchronous_commit = off`` for this transaction only): a crash can lose only the
        whole move, which leaves the rows in their inboxes to be moved again, and the
        durable commit of the batch that delivers the moved events flushes the move first
        (https://www.postgresql.org/docs/current/wal-async-commit.html). A wake-up then
        waits for one disk flush, not two.
        """
        return [
            "SELECT set_config('rowsync.refill', 'on', true),"
            " set_config('synchronous_commit', 'off', true)"
        ]

    def worker_refill_lock_sql(self) -> str | None:
        """One worker moves inbox rows at a time: the others look again soon.

        A refill locks the rows it moves (``FOR UPDATE SKIP LOCKED``); a second worker
        refilling at the same time found nothing to move only after trying to lock every
        one of them (a 20,000-row backlog: 0.2-0.3 s of server time per attempt, taken
        from the mover). ``pg_try_advisory_xact_lock`` answers at once and is released
        with the transaction; advisory locks are per database
        (https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS).
        """
        return f"SELECT pg_try_advisory_xact_lock({REFILL_LOCK})"

    def worker_take_planner_sql(self) -> tuple[list[str], list[str]]:
        """Walk an index in id order for the take, whatever the statistics say.

        A queue table's statistics are nearly always stale (it fills and empties between
        two autovacuum runs); planned for the handful of rows ANALYZE last saw, the take
        read every pending row with a bitmap scan and sorted them: 30 ms per batch over a
        100,000-event backlog instead of 1 ms. Switched off for this one statement
        (``SET LOCAL``, https://www.postgresql.org/docs/current/runtime-config-query.html).
        Both settings go in one round trip each way: a statement without parameters may
        hold several commands (https://www.psycopg.org/psycopg3/docs/basic/from_pg2.html
        #multiple-statements-in-the-same-query).
        """
        return (
            ["SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off"],
            ["SET LOCAL enable_bitmapscan TO DEFAULT; SET LOCAL enable_sort TO DEFAULT"],
        )

    #: ``NOTIFY`` channel that announces new events to idle workers.
    worker_channel: ClassVar[str] = CHANNEL

    def worker_listener(self) -> WorkerListener | None:
        """Return a ``LISTEN`` channel on a connection of its own.

        A separate connection keeps the ``LISTEN`` alive when Django closes or replaces
        the worker's own connection (``CONN_MAX_AGE``, errors).
        """
        return PostgreSQLListener(self.connection, self.worker_channel)


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
