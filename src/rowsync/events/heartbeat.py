"""Worker heartbeats: one ``rowsync.WorkerHeartbeat`` row per running worker.

A worker inserts its row when it starts, updates it at most every
``ROWSYNC_WORKER_HEARTBEAT`` seconds (after a batch, or from its idle wait) and deletes it
when its loop ends. Each write is one short transaction of its own, between batches,
never inside the delivery transaction; a write that fails is logged (WARNING on
``rowsync.worker``) and delivery goes on. Times are the database's clock (``Now()``),
so workers on hosts whose clocks differ compare fairly.

A row whose ``seen_at`` is older than :func:`stale_after` belongs to a worker that died
(kill -9, a lost host) or hangs (a receiver that never returns). Rows stale for a day are
removed when a worker starts.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import deque
from collections.abc import Sequence
from datetime import timedelta

from django.db import DatabaseError, transaction
from django.db.models.functions import Now

from rowsync import conf
from rowsync.events.claim import ClaimedEvent
from rowsync.events.telemetry import BatchLog, Failure, WorkerObserver, WorkerView
from rowsync.models import WorkerHeartbeat

__all__ = [
    "FORGET_AFTER",
    "Heartbeat",
    "TrailingMinute",
    "pass_state",
    "stale_after",
    "worker_observers",
]

logger = logging.getLogger("rowsync.worker")

#: Heartbeat rows not updated for this long are deleted when a worker starts.
FORGET_AFTER = timedelta(days=1)


def stale_after(interval: float | None = None) -> float:
    """Return the seconds without a heartbeat after which a worker counts as stale.

    Three missed heartbeats, and at least 30 seconds (a batch in progress writes none).

    Args:
        interval: The heartbeat interval (default ``ROWSYNC_WORKER_HEARTBEAT``).
    """
    beat = conf.worker_heartbeat() if interval is None else interval
    return max(3 * beat, 30.0)


class TrailingMinute:
    """Counts over the trailing minute, from samples of two running totals.

    One sample per second at most: later calls within the same second update it.
    """

    def __init__(self, seconds: float = 60.0) -> None:
        self.seconds = seconds
        # [(monotonic time, delivered total, failed total)], oldest first
        self._samples: deque[tuple[float, int, int]] = deque([(time.monotonic(), 0, 0)])

    def add(self, delivered: int, failed: int, now: float | None = None) -> tuple[int, int]:
        """Record the totals now; return ``(delivered, failed)`` within the window."""
        now = time.monotonic() if now is None else now
        if now - self._samples[-1][0] >= 1.0 or len(self._samples) == 1:
            self._samples.append((now, delivered, failed))
        else:
            self._samples[-1] = (self._samples[-1][0], delivered, failed)
        # Keep the newest sample at least a window old: the baseline.
        while len(self._samples) > 2 and self._samples[1][0] <= now - self.seconds:
            self._samples.popleft()
        _, base_delivered, base_failed = self._samples[0]
        return delivered - base_delivered, failed - base_failed


class Heartbeat(WorkerObserver):
    """Record the worker's heartbeat row (a worker observer).

    Args:
        interval: Seconds between two writes (default ``ROWSYNC_WORKER_HEARTBEAT``).
    """

    def __init__(self, interval: float | None = None) -> None:
        self.interval = conf.worker_heartbeat() if interval is None else interval
        self.window = TrailingMinute()
        self._due = 0.0
        self._last_minute = (0, 0)

    def started(self, worker: WorkerView) -> None:
        """Insert the row (replacing one left by an earlier worker of the same id)."""
        self._count(worker)
        self._write(worker, "idle", fresh=True)

    def batch(
        self,
        worker: WorkerView,
        delivered: Sequence[ClaimedEvent],
        failed: Sequence[Failure],
        seconds: float,
    ) -> None:
        """Count the batch; update the row if one is due."""
        self._count(worker)
        self._maybe_write(worker, "busy")

    def tick(self, worker: WorkerView, state: str) -> None:
        """Update the row if one is due."""
        self._maybe_write(worker, state)

    def stopped(self, worker: WorkerView) -> None:
        """Delete the row."""
        try:
            with transaction.atomic(using=worker.using):
                rows = WorkerHeartbeat.objects.using(worker.using)
                rows.filter(worker_id=worker.worker_id)._raw_delete(worker.using)
        except DatabaseError as exc:
            logger.warning(
                "heartbeat of worker %s not removed: %s",
                worker.worker_id,
                exc,
                extra={"worker_id": worker.worker_id, "database": worker.using},
            )

    def _count(self, worker: WorkerView) -> None:
        self._last_minute = self.window.add(worker.stats.delivered, worker.stats.failed)

    def _maybe_write(self, worker: WorkerView, state: str) -> None:
        if time.monotonic() >= self._due:
            self._count(worker)
            self._write(worker, state)

    def _write(self, worker: WorkerView, state: str, *, fresh: bool = False) -> None:
        self._due = time.monotonic() + self.interval
        try:
            # A transaction of its own (a savepoint if the caller holds one open): a
            # failed write leaves no broken transaction behind.
            with transaction.atomic(using=worker.using):
                self._save(worker, state, fresh=fresh)
        except DatabaseError as exc:
            logger.warning(
                "heartbeat of worker %s not recorded: %s",
                worker.worker_id,
                exc,
                extra={"worker_id": worker.worker_id, "database": worker.using},
            )

    def _save(self, worker: WorkerView, state: str, *, fresh: bool) -> None:
        rows = WorkerHeartbeat.objects.using(worker.using)
        stats = worker.stats
        delivered_minute, failed_minute = self._last_minute
        counts = {
            "state": state,
            "delivered": stats.delivered,
            "failed": stats.failed,
            "dead": stats.dead,
            "delivered_last_minute": delivered_minute,
            "failed_last_minute": failed_minute,
        }
        # Plain statements (update, _raw_delete, bulk_create): no model signals, so the
        # project's post_save / post_delete receivers never hear of heartbeats.
        if fresh:
            rows.filter(seen_at__lt=Now() - FORGET_AFTER)._raw_delete(worker.using)
            rows.filter(worker_id=worker.worker_id)._raw_delete(worker.using)
        elif rows.filter(worker_id=worker.worker_id).update(seen_at=Now(), **counts):
            return
        # New, or deleted meanwhile (by an operator, a flush): insert it (again).
        row = WorkerHeartbeat(
            worker_id=worker.worker_id,
            hostname=socket.gethostname()[:255],
            pid=os.getpid(),
            started_at=Now(),
            seen_at=Now(),
            **counts,
        )
        rows.bulk_create([row])


def worker_observers(
    heartbeat: float | None, more: Sequence[WorkerObserver]
) -> list[WorkerObserver]:
    """Return a worker's observers: the batch log, the heartbeat (unless 0), ``more``."""
    found: list[WorkerObserver] = [BatchLog()]
    if heartbeat is None or heartbeat > 0:
        found.append(Heartbeat(heartbeat))
    return [*found, *more]


def pass_state(stopping: bool, handled: int) -> str:
    """Return the heartbeat state after a pass that handled ``handled`` events."""
    if stopping:
        return "stopping"
    return "busy" if handled else "idle"
