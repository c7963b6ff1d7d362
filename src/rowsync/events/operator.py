"""What an operator does to events by hand: retry now, requeue, discard, read the backlog.

The admin's operator console (:mod:`rowsync.console`) calls these with the querysets of
its changelists. Each action is one or two statements over the queryset: no event row is
loaded into Python, so they work the same on ten events and on a hundred thousand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from rowsync.events import inbox
from rowsync.events.captured import captured_models
from rowsync.events.replay import requeue_dead
from rowsync.models import DeletedRow

__all__ = ["BacklogRow", "RetryNow", "backlog", "discard", "requeue_dead", "retry_now"]

_PENDING = DeletedRow.Status.PENDING
_DEAD = DeletedRow.Status.DEAD


@dataclass(frozen=True)
class RetryNow:
    """What :func:`retry_now` did."""

    #: Pending events now due at once.
    rescheduled: int
    #: Of those, events whose lease had run out and was cleared.
    released: int


def retry_now(events: QuerySet[DeletedRow], *, now: datetime | None = None) -> RetryNow:
    """Make the pending events among ``events`` due at once (``next_attempt_at = now``).

    A lease still running (``claimed_until`` in the future) is kept: a live worker or an
    on-commit delivery holds that event and may be delivering it right now; taking it
    away would deliver it twice. Only leases that ran out are cleared, which is what a
    worker would do anyway when it next polls. Dead letters are left alone (requeue them).

    Args:
        events: Any queryset of events (selected rows or a whole filtered changelist).
        now: The current time (default: ``timezone.now()``, the clock workers compare).
    """
    moment = now or timezone.now()
    pending = events.filter(status=_PENDING).order_by()
    with transaction.atomic(using=pending.db):
        rescheduled = pending.update(next_attempt_at=moment)
        # The UPDATE re-reads claimed_until under the row lock: a lease a worker renewed
        # meanwhile no longer matches.
        released = pending.filter(claimed_until__lt=moment).update(
            claimed_by="", claimed_until=None
        )
    return RetryNow(rescheduled=rescheduled, released=released)


def discard(events: QuerySet[DeletedRow]) -> int:
    """Delete ``events`` (their ``post_delete`` is never sent) in one ``DELETE``.

    The event table has no relations, signals or capture of its own, so Django's
    collector has nothing to add; the rows are deleted without being loaded.

    Returns:
        How many events were deleted.
    """
    query = events.order_by()
    return int(query._raw_delete(query.db))


@dataclass(frozen=True)
class BacklogRow:
    """The backlog of one captured model on one database."""

    model_label: str
    #: Events waiting in the event table (status pending).
    pending: int
    #: Rows a capture trigger wrote into the model's inbox, not yet moved to the event table.
    inbox: int
    #: Dead letters.
    dead: int
    #: When the oldest pending event was recorded (None: nothing pending).
    oldest_pending: datetime | None


def backlog(using: str = "default") -> list[BacklogRow]:
    """Return the backlog per model on database ``using``, by model label.

    Every captured model is listed, with zeros when nothing waits; models that are no
    longer captured but still have events are listed too. Two queries: one grouped count
    over the event table and one count per inbox in a single statement.
    """
    grouped = (
        DeletedRow.objects.using(using)
        .order_by()
        .values("model_label")
        .annotate(
            pending=Count("pk", filter=Q(status=_PENDING)),
            dead=Count("pk", filter=Q(status=_DEAD)),
            oldest=Min("created_at", filter=Q(status=_PENDING)),
        )
    )
    # {model label: (pending, dead, oldest pending)}
    table = {g["model_label"]: (g["pending"], g["dead"], g["oldest"]) for g in grouped}
    boxes = inbox.counts(using)
    labels = {m._meta.label_lower for m in captured_models()} | set(table) | set(boxes)
    rows = []
    for label in sorted(labels):
        pending, dead, oldest = table.get(label, (0, 0, None))
        rows.append(BacklogRow(label, pending, boxes.get(label, 0), dead, oldest))
    return rows
