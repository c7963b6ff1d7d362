"""Dead letters: list them, re-send them now, or put them back in the worker's queue."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import QuerySet

from rowsync.events import claim as claims
from rowsync.events.retry import describe_error
from rowsync.events.worker_types import Deliver, WorkerStopped, default_deliver
from rowsync.models import DeletedRow

__all__ = ["ReplayResult", "dead_letters", "replay", "requeue_dead"]


@dataclass
class ReplayResult:
    """What :func:`replay` did."""

    delivered: list[int] = field(default_factory=list)
    #: {event id: reason}
    failed: dict[int, str] = field(default_factory=dict)
    requeued: int = 0


def _dead(using: str, ids: list[int] | None, model: str | None) -> QuerySet[DeletedRow]:
    qs = DeletedRow.objects.using(using).filter(status=DeletedRow.Status.DEAD)
    if ids:
        qs = qs.filter(pk__in=ids)
    if model:
        qs = qs.filter(model_label__iexact=model)
    return qs


def dead_letters(
    using: str = "default", *, ids: list[int] | None = None, model: str | None = None
) -> list[DeletedRow]:
    """Return dead letters, oldest first, optionally only ``ids`` or one model label."""
    return list(_dead(using, ids, model).order_by("pk"))


def replay(
    using: str = "default",
    *,
    ids: list[int] | None = None,
    model: str | None = None,
    requeue: bool = False,
    deliver: Deliver | None = None,
) -> ReplayResult:
    """Re-send dead letters now (or put them back in the worker's queue).

    Each event is delivered in its own transaction that also deletes it, as the worker
    does. An event that fails again stays a dead letter with the new reason and one more
    attempt counted.

    Args:
        using: Database alias of the event table.
        ids: Only these events (None: every dead letter).
        model: Only events of this ``app_label.ModelName``.
        requeue: Mark them pending with a fresh attempt count instead of sending them
            here; a running worker then delivers them.
        deliver: Sends ``post_delete`` for one event (default: rowsync's dispatcher).
    """
    result = ReplayResult()
    if requeue:
        result.requeued = requeue_dead(_dead(using, ids, model))
        return result
    send = deliver or default_deliver()
    for event in dead_letters(using, ids=ids, model=model):
        try:
            sent = _send_one(using, event, send)
        except (KeyboardInterrupt, WorkerStopped):
            raise
        except Exception as exc:
            reason = describe_error(exc)
            DeletedRow.objects.using(using).filter(pk=event.pk).update(
                attempts=event.attempts + 1, last_error=reason
            )
            result.failed[event.pk] = f"{type(exc).__name__}: {exc}"
        else:
            if sent:
                result.delivered.append(event.pk)
    return result


def requeue_dead(events: QuerySet[DeletedRow]) -> int:
    """Put the dead letters among ``events`` back in the worker's queue, in one ``UPDATE``.

    They become pending with a fresh attempt count, due at once and unclaimed; their
    ``last_error`` stays until a delivery succeeds. No row is loaded: ``events`` may be
    any filtered queryset (the admin passes its changelist's).

    Returns:
        How many dead letters were requeued.
    """
    return events.filter(status=DeletedRow.Status.DEAD).update(
        status=DeletedRow.Status.PENDING,
        attempts=0,
        next_attempt_at=None,
        claimed_by="",
        claimed_until=None,
    )


def _send_one(using: str, event: DeletedRow, send: Deliver) -> bool:
    """Deliver and delete one dead letter in its own transaction (False: already gone)."""
    with transaction.atomic(using=using):
        # Re-read under lock: another replay may have taken it meanwhile.
        locked = (
            DeletedRow.objects.using(using)
            .select_for_update()
            .filter(pk=event.pk, status=DeletedRow.Status.DEAD)
            .first()
        )
        if locked is None:
            return False
        send(locked, using)
        claims.finish(using, [locked.pk])
    return True
