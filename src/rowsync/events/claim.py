"""Claiming events for a worker, without vendor SQL (the backend says which way works).

Two strategies, both used INSIDE the transaction that delivers the events and deletes
them, so that claiming, the receivers' own database writes and the deletion of the
event commit together (or not at all):

``skip_locked`` (PostgreSQL, MariaDB 10.6+, MySQL 8.0+)
    ``SELECT ... ORDER BY id LIMIT n FOR UPDATE SKIP LOCKED``: each worker locks a
    different batch; a worker that dies releases its locks with its connection.

``lease`` (SQLite, older MariaDB/MySQL)
    ``UPDATE ... SET claimed_by = me, claimed_until = now + lease`` on the next ``n``
    due events, then read them back. On SQLite the ``UPDATE`` is the transaction's first
    statement, so it takes the single write lock at once (a deferred transaction that
    reads first can fail with ``SQLITE_BUSY`` when it upgrades,
    https://www.sqlite.org/lang_transaction.html); other workers wait their turn. A lease
    only becomes visible to others if it is committed (the hand-off mode does that);
    events whose lease expired are due again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from django.db import connections
from django.db.models import Q, QuerySet, Subquery

from rowsync.backends import get_backend
from rowsync.events.retry import RetryPolicy
from rowsync.models import DeletedRow

if TYPE_CHECKING:
    from rowsync.events.capture import CaptureSpec

Strategy = Literal["skip_locked", "lease"]


class ClaimedEvent(NamedTuple):
    """An event as the worker reads it (lighter than a ``DeletedRow`` instance).

    JSON columns may hold text (read with a plain cursor); the dispatcher decodes both.
    """

    id: int
    model_label: str
    table_name: str
    op: str
    pk_text: str
    row: Any
    changes: Any
    context: Any
    attempts: int
    #: The last in-process phase that already called receivers (see
    #: :mod:`rowsync.events.receivers`): the worker calls only the others.
    delivered_through: str = ""


#: Columns read for a :class:`ClaimedEvent`, in order (field name == column name).
COLUMNS: tuple[str, ...] = ClaimedEvent._fields


def default_strategy(using: str) -> Strategy:
    """Return the claiming strategy for database ``using``."""
    return "skip_locked" if get_backend(connections[using]).worker_skip_locked else "lease"


def due(using: str, now: datetime) -> QuerySet[DeletedRow]:
    """Return the events a worker may take at ``now``: pending, due, lease free."""
    return (
        DeletedRow.objects.using(using)
        .filter(status=DeletedRow.Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
    )


def take(
    using: str, *, limit: int, now: datetime, strategy: Strategy
) -> list[ClaimedEvent] | None:
    """Claim and delete up to ``limit`` due events in one statement. Call inside ``atomic``.

    ``DELETE ... WHERE id IN (SELECT ... LIMIT n [FOR UPDATE SKIP LOCKED]) RETURNING ...``
    writes each event row once instead of twice (lock, then delete). If delivery fails,
    rolling the transaction back brings the events back.

    Returns:
        The events, ordered by id, or None when the engine cannot do it in one
        statement (then use :func:`claim` and :func:`finish`).
    """
    backend = get_backend(connections[using])
    if not backend.worker_delete_returning:
        return None
    inner = due(using, now).order_by("pk").values("pk")
    if strategy == "skip_locked":
        inner = inner.select_for_update(skip_locked=True)
    sql, params = inner[:limit].query.sql_with_params()
    statement = backend.worker_take_sql(DeletedRow._meta.db_table, "id", COLUMNS, sql)
    before, after = backend.worker_take_planner_sql()
    with connections[using].cursor() as cursor:
        for sql in before:
            cursor.execute(sql)
        cursor.execute(statement, params)
        rows = [ClaimedEvent(*r) for r in cursor.fetchall()]
        for sql in after:
            cursor.execute(sql)
    rows.sort()  # RETURNING gives no order
    return rows


def take_inboxes(using: str, boxes: Sequence[CaptureSpec], limit: int) -> list[ClaimedEvent]:
    """Take up to ``limit`` free rows of the inboxes ``boxes`` as events. Call inside ``atomic``.

    The rows are deleted from their inboxes in the delivering transaction, never written
    to the event table: if delivery fails, rolling back puts them back in their inbox.
    Their id is 0 (they have none yet). Only where the backend has ``inbox_take``.
    """
    backend = get_backend(connections[using])
    free = backend.inbox_free_sql()
    taken: list[ClaimedEvent] = []
    with connections[using].cursor() as cursor:
        for box in boxes:
            if len(taken) >= limit:
                break
            # With parameters: "%%" in the condition means "%" (as for a move).
            cursor.execute(backend.inbox_take_sql(box, free, limit - len(taken)), [])
            taken += [ClaimedEvent(*r) for r in cursor.fetchall()]
    return taken


def due_ids(using: str, now: datetime, limit: int) -> list[int]:
    """Return the ids of up to ``limit`` due events, oldest first."""
    return list(due(using, now).order_by("pk").values_list("pk", flat=True)[:limit])


def claim(
    using: str,
    *,
    worker_id: str,
    limit: int,
    now: datetime,
    lease: timedelta,
    strategy: Strategy,
    ids: Sequence[int] | None = None,
) -> list[ClaimedEvent]:
    """Claim up to ``limit`` due events, oldest first. Call inside ``atomic(using)``.

    Args:
        using: Database alias of the event table.
        worker_id: Name written into ``claimed_by`` by the lease strategy.
        limit: Largest batch.
        now: The current time (compared with ``next_attempt_at`` / ``claimed_until``).
        lease: How long a lease lasts.
        strategy: ``"skip_locked"`` or ``"lease"``.
        ids: Only these events (used to retry a batch one event at a time).

    Returns:
        The claimed events, ordered by id.
    """
    qs = due(using, now)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    qs = qs.order_by("pk")
    if strategy == "skip_locked":
        return _read(qs.select_for_update(skip_locked=True)[:limit])
    until = now + lease
    table = DeletedRow.objects.using(using)
    if get_backend(connections[using]).worker_lease_update_subquery:
        count = table.filter(pk__in=Subquery(qs.values("pk")[:limit])).update(
            claimed_by=worker_id, claimed_until=until
        )
    else:
        # The UPDATE re-checks every condition, so rows another worker took in between
        # are left out; InnoDB's row locks then keep them ours until commit.
        pks = list(qs.values_list("pk", flat=True)[:limit])
        count = qs.filter(pk__in=pks).update(claimed_by=worker_id, claimed_until=until)
    if not count:
        return []
    return _read(table.filter(claimed_by=worker_id, claimed_until=until).order_by("pk"))


def _read(qs: QuerySet[DeletedRow]) -> list[ClaimedEvent]:
    return [ClaimedEvent(*r) for r in qs.values_list(*COLUMNS)]


def finish(using: str, ids: Iterable[int]) -> int:
    """Delete delivered events; return how many rows went."""
    pks = list(ids)
    if not pks:
        return 0
    backend = get_backend(connections[using])
    if backend.worker_delete_one_by_one:
        sql = backend.worker_delete_sql(DeletedRow._meta.db_table, "id")
        with connections[using].cursor() as cursor:
            cursor.executemany(sql, [[pk] for pk in pks])
        return len(pks)
    # A plain DELETE: the event table has no signals, relations or capture of its own,
    # so Django's Collector (and anything wrapped around it) has nothing to add.
    return DeletedRow.objects.using(using).filter(pk__in=pks)._raw_delete(using)


def record_failure(
    using: str,
    event: ClaimedEvent,
    error: str,
    *,
    now: datetime,
    policy: RetryPolicy,
    permanent: bool = False,
) -> bool:
    """Count a failed attempt: schedule the next one, or park the event as a dead letter.

    Args:
        using: Database alias of the event table.
        event: The event whose delivery failed.
        error: The reason, stored in ``last_error``.
        now: The current time.
        policy: Back-off and attempt limit.
        permanent: The failure cannot go away by retrying (dead-letter at once).

    Returns:
        Whether the event is now a dead letter.
    """
    attempts = event.attempts + 1
    dead = permanent or policy.is_exhausted(attempts)
    DeletedRow.objects.using(using).filter(pk=event.id).update(
        attempts=attempts,
        status=DeletedRow.Status.DEAD if dead else DeletedRow.Status.PENDING,
        next_attempt_at=None if dead else policy.next_attempt_at(attempts, now),
        last_error=error,
        claimed_by="",
        claimed_until=None,
    )
    return dead


def pending_count(using: str) -> int:
    """Return how many events wait for delivery (retries and inbox rows included)."""
    from rowsync.events import inbox

    queued = DeletedRow.objects.using(using).filter(status=DeletedRow.Status.PENDING).count()
    return queued + inbox.pending_count(using)


def dead_count(using: str) -> int:
    """Return how many dead letters wait for ``rowsync replay``."""
    return DeletedRow.objects.using(using).filter(status=DeletedRow.Status.DEAD).count()
