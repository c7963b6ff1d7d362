"""What a worker tells the outside world: observers of its life and of each batch.

The worker calls its observers at a few points of its loop (start, each batch, each
turn of the loop or of the idle wait, stop), always outside the delivery transaction.
Observers record heartbeats (:mod:`rowsync.events.heartbeat`), count for Prometheus
(:mod:`rowsync.events.metrics`) and write the structured log records of
:class:`BatchLog`. An observer that raises is logged and otherwise ignored: telemetry
never stops delivery.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple, Protocol

from rowsync.events.claim import ClaimedEvent

if TYPE_CHECKING:
    from rowsync.events.worker_types import WorkerStats

__all__ = ["BatchLog", "Failure", "Observers", "WorkerObserver", "WorkerView", "event_fields"]

logger = logging.getLogger("rowsync.worker")


class Failure(NamedTuple):
    """One failed delivery attempt of a batch."""

    event: ClaimedEvent
    error: BaseException
    #: The event is now a dead letter.
    dead: bool


class WorkerView(Protocol):
    """What observers may read of a worker."""

    worker_id: str
    using: str
    stats: WorkerStats


class WorkerObserver:
    """Base class of worker observers: every hook does nothing unless overridden."""

    def started(self, worker: WorkerView) -> None:
        """Run once, before the first pass."""

    def batch(
        self,
        worker: WorkerView,
        delivered: Sequence[ClaimedEvent],
        failed: Sequence[Failure],
        seconds: float,
    ) -> None:
        """Run after each committed batch (``seconds``: its wall time)."""

    def tick(self, worker: WorkerView, state: str) -> None:
        """Run at each turn of the loop and of the idle wait (``"busy"``, ``"idle"`` ...)."""

    def stopped(self, worker: WorkerView) -> None:
        """Run once when the loop ends (cleanly or not)."""


class Observers:
    """Call each observer in turn; one that raises is logged and skipped."""

    def __init__(self, observers: Iterable[WorkerObserver]) -> None:
        self.observers = list(observers)

    def _each(self, hook: str, worker: WorkerView, *args: object) -> None:
        for observer in self.observers:
            try:
                getattr(observer, hook)(worker, *args)
            except Exception as exc:
                logger.warning(
                    "worker observer %s.%s failed: %s",
                    type(observer).__name__,
                    hook,
                    exc,
                    extra={"worker_id": worker.worker_id, "database": worker.using},
                )

    def started(self, worker: WorkerView) -> None:
        """Tell every observer the worker starts."""
        self._each("started", worker)

    def batch(
        self,
        worker: WorkerView,
        delivered: Sequence[ClaimedEvent],
        failed: Sequence[Failure],
        seconds: float,
    ) -> None:
        """Tell every observer a batch committed."""
        self._each("batch", worker, delivered, failed, seconds)

    def tick(self, worker: WorkerView, state: str) -> None:
        """Tell every observer the worker is alive, in ``state``."""
        self._each("tick", worker, state)

    def stopped(self, worker: WorkerView) -> None:
        """Tell every observer the worker stops."""
        self._each("stopped", worker)


def event_fields(worker: WorkerView, event: ClaimedEvent) -> dict[str, object]:
    """Return the structured fields of a log record about ``event`` (``extra=``)."""
    return {
        "worker_id": worker.worker_id,
        "database": worker.using,
        "event_id": event.id,
        "model": event.model_label,
        "op": event.op,
        "pk": event.pk_text,
        "attempts": event.attempts,
    }


class BatchLog(WorkerObserver):
    """Log each batch on ``rowsync.worker`` with structured fields.

    * DEBUG, one record per batch: ``worker_id``, ``database``, ``events``,
      ``failures``, ``duration`` (seconds);
    * DEBUG, one record per delivered event (only when DEBUG is enabled): the fields of
      :func:`event_fields`;
    * WARNING per failed attempt that will be retried, ERROR per new dead letter: the
      fields of :func:`event_fields` (``attempts`` counts the failed attempt) and ``error``.
    """

    def batch(
        self,
        worker: WorkerView,
        delivered: Sequence[ClaimedEvent],
        failed: Sequence[Failure],
        seconds: float,
    ) -> None:
        """Write the batch's records."""
        for event, error, dead in failed:
            fields = event_fields(worker, event)
            fields.update(attempts=event.attempts + 1, error=str(error), dead=dead)
            (logger.error if dead else logger.warning)(
                "event %s (%s pk=%s) failed attempt %d%s: %s",
                event.id,
                event.model_label,
                event.pk_text,
                event.attempts + 1,
                ", now a dead letter" if dead else "",
                error,
                extra=fields,
            )
        if not logger.isEnabledFor(logging.DEBUG):
            return
        for event in delivered:
            logger.debug(
                "delivered event %s (%s pk=%s)",
                event.id,
                event.model_label,
                event.pk_text,
                extra=event_fields(worker, event),
            )
        logger.debug(
            "batch: %d delivered, %d failed in %.3fs",
            len(delivered),
            len(failed),
            seconds,
            extra={
                "worker_id": worker.worker_id,
                "database": worker.using,
                "events": len(delivered),
                "failures": len(failed),
                "duration": seconds,
            },
        )
