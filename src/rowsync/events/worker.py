"""The event worker: deliver Django's ``post_delete`` for events no process delivered.

One pass (:meth:`Worker.run_once`) is one transaction:

1. claim a batch of due events (:mod:`rowsync.events.claim`),
2. send ``post_delete`` for each (receivers run inside this transaction),
3. delete the delivered events,
4. commit.

If a receiver raises, the transaction is rolled back and the same events are taken again
one by one, each inside a savepoint: the good ones are delivered and deleted, the failing
one is rolled back to its savepoint and scheduled for a retry with back-off, or parked as a
dead letter after ``max_attempts`` (:mod:`rowsync.events.retry`). Other events are not
blocked.

Guarantees (see ``docs/worker.md``): the receivers' database writes commit in the same
transaction as the event's deletion, so they happen exactly once. Anything a receiver does
outside the database (files, HTTP calls, caches) is at least once: a crash after it ran
and before the commit re-delivers the event. Work a receiver defers with
``transaction.on_commit`` runs after the commit, at most once.

The worker's waiting (notifications, polling) is :mod:`rowsync.events.wakeup`; dead
letters are :mod:`rowsync.events.replay` (re-exported here).
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from types import FrameType
from typing import Literal

from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from rowsync import conf
from rowsync.events import batch
from rowsync.events import claim as claims
from rowsync.events.capture import CaptureSpec
from rowsync.events.claim import ClaimedEvent
from rowsync.events.heartbeat import pass_state, worker_observers
from rowsync.events.replay import ReplayResult, dead_letters, replay
from rowsync.events.retry import RetryPolicy, describe_error, is_permanent
from rowsync.events.telemetry import Failure, Observers, WorkerObserver
from rowsync.events.wakeup import LISTEN_RETRY, Wakeups
from rowsync.events.worker_inbox import MOVE_BATCHES, InboxRefill
from rowsync.events.worker_types import (
    Deliver,
    WorkerStats,
    WorkerStopped,
    default_deliver,
    default_worker_id,
)

__all__ = [
    "LISTEN_RETRY",
    "MOVE_BATCHES",
    "Deliver",
    "ReplayResult",
    "Worker",
    "WorkerStats",
    "WorkerStopped",
    "dead_letters",
    "default_worker_id",
    "replay",
]

logger = logging.getLogger("rowsync.worker")

#: Seconds an idle worker waits before looking again when other workers were moving the
#: inbox rows into the queue (they are due as soon as those movers commit).
BUSY_RETRY = 0.02


class Worker(InboxRefill, Wakeups):
    """Deliver pending events from the event table of one database.

    Args:
        using: Database alias holding ``rowsync_deleted_row``.
        batch_size: Events per transaction (``ROWSYNC_WORKER_BATCH_SIZE``).
        poll_interval: Seconds between polls when idle (``ROWSYNC_WORKER_POLL_INTERVAL``).
        policy: Retry policy (``ROWSYNC_WORKER_MAX_ATTEMPTS``, ``..._RETRY_DELAY``).
        worker_id: Name written into ``claimed_by``; unique per process by default.
        strategy: ``"skip_locked"`` or ``"lease"``; the backend picks by default.
        lease_seconds: Length of a lease (lease strategy).
        listen: Wake up on ``NOTIFY`` where the backend has it (polling stays on).
        progress_interval: Seconds between progress reports (0 turns them off).
        report: Where progress lines go (default: the ``rowsync.worker`` logger).
        deliver: Sends ``post_delete`` for one event (default: rowsync's dispatcher).
        heartbeat: Seconds between heartbeats (``ROWSYNC_WORKER_HEARTBEAT``; 0: none).
        observers: More observers of the loop and its batches (metrics, see
            :mod:`rowsync.events.telemetry`).
    """

    def __init__(
        self,
        using: str = "default",
        *,
        batch_size: int | None = None,
        poll_interval: float | None = None,
        policy: RetryPolicy | None = None,
        worker_id: str | None = None,
        strategy: claims.Strategy | None = None,
        lease_seconds: float = 300.0,
        listen: bool = True,
        progress_interval: float = 10.0,
        report: Callable[[str], None] | None = None,
        deliver: Deliver | None = None,
        heartbeat: float | None = None,
        observers: Sequence[WorkerObserver] = (),
    ) -> None:
        self.using = using
        self.batch_size = batch_size or conf.worker_batch_size()
        #: Move inbox rows into the queue before the next claim (the queue ran low).
        self._refill = True
        #: What the last refill found in the inboxes: "empty" (it moved every free row),
        #: "more" (it moved its limit), "busy" (rows were there, all held by other movers).
        self._inboxes: Literal["empty", "more", "busy"] = "more"
        self._busy_waits = 0
        self.poll_interval = (
            conf.worker_poll_interval() if poll_interval is None else poll_interval
        )
        self.policy = policy or RetryPolicy.from_settings()
        self.worker_id = (worker_id or default_worker_id())[:100]
        self.strategy: claims.Strategy = strategy or claims.default_strategy(using)
        self.lease = timedelta(seconds=lease_seconds)
        self.listen = listen
        self.progress_interval = progress_interval
        self.report = report or logger.info
        self.deliver = deliver or default_deliver()
        self.stats = WorkerStats()
        self._stopping = False
        #: When to try opening a broken notification channel again (None: not broken).
        self._listen_retry_at: float | None = None
        self._last_report = time.monotonic()
        self._last_reported_count = 0
        self.observers = Observers(worker_observers(heartbeat, observers))

    # -- one batch -------------------------------------------------------------------

    def run_once(self) -> int:
        """Claim, deliver and delete one batch; return how many events it handled.

        "Handled" counts delivered events and failed attempts; 0 means nothing was due.
        The inboxes refill the queue when the last claim came back short, and once more
        before answering 0.
        """
        refilled = self._refill
        if refilled:
            self._refill_queue()
        handled = self._run_batch()
        if not handled and not refilled:
            self._refill_queue()
            handled = self._run_batch()
        return handled

    def _run_batch(self) -> int:
        # DEBUG=True would keep every query of a long-lived worker.
        connections[self.using].queries_log.clear()
        started = time.monotonic()
        now = timezone.now()
        ids: list[int] = []
        boxes: tuple[CaptureSpec, ...] = ()
        direct: list[ClaimedEvent] = []
        try:
            with transaction.atomic(using=self.using), batch.collecting():
                # Rows the inboxes hold first, where the backend takes them here: their
                # receivers run before anything else of the wake-up.
                boxes, direct = self._take_from_inboxes()
                ids = [event.id for event in direct]
                for event in direct:
                    self.deliver(event, self.using)
                # One statement claims and deletes the batch where the engine allows it;
                # a failure below rolls the deletion back with everything else.
                queued, taken = self._take_queued(now, self.batch_size - len(direct))
                events = direct + queued
                self._refill = len(events) < self.batch_size
                if not events:
                    return 0
                ids = [event.id for event in events]
                for event in queued:
                    self.deliver(event, self.using)
                if not taken:
                    claims.finish(self.using, [event.id for event in queued])
        except (KeyboardInterrupt, WorkerStopped):
            raise
        except Exception as exc:
            if not ids:
                raise  # claiming itself failed: a database problem, not a receiver's
            logger.warning(
                "batch of %d failed (%s: %s); delivering one event at a time",
                len(ids),
                type(exc).__name__,
                exc,
                extra={"worker_id": self.worker_id, "database": self.using, "events": len(ids)},
            )
            if direct:
                # The inbox rows went back with the rollback: into the event table with
                # them, where failed attempts are counted (retries, dead letters).
                self._move(boxes, len(direct), exclusive=False)
                ids = claims.due_ids(self.using, timezone.now(), self.batch_size)
            return self._run_one_by_one(ids)
        self.stats.delivered += len(ids)
        self.stats.batches += 1
        self.observers.batch(self, events, (), time.monotonic() - started)
        return len(ids)

    def _take_queued(self, now: datetime, limit: int) -> tuple[list[ClaimedEvent], bool]:
        """Take up to ``limit`` due events of the event table.

        Returns:
            The events, and whether they are deleted already (else claimed: delete them
            with :func:`rowsync.events.claim.finish` once delivered).
        """
        due, self._queue_due = self._queue_due, True
        if limit <= 0 or not due:
            return [], True
        events = claims.take(self.using, limit=limit, now=now, strategy=self.strategy)
        if events is not None:
            return events, True
        return self._claim(now, limit=limit), False

    def _claim(
        self, now: datetime, ids: list[int] | None = None, limit: int | None = None
    ) -> list[ClaimedEvent]:
        return claims.claim(
            self.using,
            worker_id=self.worker_id,
            limit=limit or (self.batch_size if ids is None else len(ids)),
            now=now,
            lease=self.lease,
            strategy=self.strategy,
            ids=ids,
        )

    def _run_one_by_one(self, ids: list[int]) -> int:
        """Deliver the events ``ids`` each in a savepoint; record the failures."""
        started = now = timezone.now()
        delivered: list[ClaimedEvent] = []
        failures: list[tuple[ClaimedEvent, BaseException]] = []
        outcomes: list[Failure] = []
        with transaction.atomic(using=self.using):
            events = self._claim(now, ids)
            for event in events:
                try:
                    with transaction.atomic(using=self.using), batch.collecting():
                        self.deliver(event, self.using)
                except (KeyboardInterrupt, WorkerStopped):
                    raise
                except Exception as exc:
                    failures.append((event, exc))
                else:
                    delivered.append(event)
            claims.finish(self.using, [event.id for event in delivered])
            for event, error in failures:
                dead = claims.record_failure(
                    self.using,
                    event,
                    describe_error(error),
                    now=now,
                    policy=self.policy,
                    permanent=is_permanent(error),
                )
                outcomes.append(Failure(event, error, dead))
        self.stats.delivered += len(delivered)
        self.stats.failed += len(failures)
        self.stats.dead += sum(outcome.dead for outcome in outcomes)
        self.stats.batches += 1
        seconds = (timezone.now() - started).total_seconds()
        self.observers.batch(self, delivered, outcomes, seconds)
        return len(delivered) + len(failures)

    # -- the loop --------------------------------------------------------------------

    def run(self, *, drain: bool = False, max_events: int | None = None) -> WorkerStats:
        """Deliver events until stopped (SIGTERM/SIGINT, :meth:`stop`) or, with ``drain``,
        until nothing is due.

        Args:
            drain: Stop as soon as a pass finds nothing due (events waiting for a retry
                later stay pending).
            max_events: Stop after handling at least this many events.

        Returns:
            The run's counters.
        """
        listener = self._open_listener() if not drain else None
        self._report_start()
        self.observers.started(self)
        try:
            while not self._stopping:
                try:
                    handled = self.run_once()
                except DatabaseError as exc:
                    if drain:
                        raise
                    logger.warning(
                        "database error, retrying in %.1fs: %s", self.poll_interval, exc
                    )
                    connections[self.using].close()
                    self._sleep(max(self.poll_interval, 0.1))
                    continue
                self._maybe_report()
                self.observers.tick(self, pass_state(self._stopping, handled))
                if (
                    max_events is not None
                    and self.stats.delivered + self.stats.failed >= max_events
                ):
                    break
                if self._pass_again(handled, listening=listener is not None):
                    continue
                if drain:
                    break
                listener = self._idle(listener)
        finally:
            if listener is not None:
                listener.close()
            self.observers.stopped(self)
        self._report(final=True)
        return self.stats

    def _pass_again(self, handled: int, *, listening: bool) -> bool:
        """Return whether to run the next pass at once (False: wait, or stop a drain)."""
        if not handled:
            # Rows were in the inboxes, all held by other workers moving them: they are
            # due when those commit, and a refill announces nothing (it would wake every
            # worker). Look again soon, for at most about one poll interval.
            busy = self._inboxes == "busy" and self._busy_waits * BUSY_RETRY < self.poll_interval
            self._busy_waits = self._busy_waits + 1 if busy else 0
            if busy:
                self._sleep(BUSY_RETRY)
            return busy
        self._busy_waits = 0
        # After a short batch that found the inboxes drained, a live channel announces
        # whatever commits next: another pass now would find nothing.
        return not listening or handled >= self.batch_size or self._inboxes != "empty"

    def stop(self) -> None:
        """Ask the loop to stop after the current batch commits."""
        self._stopping = True

    def install_signal_handlers(self) -> None:
        """Stop cleanly on the first SIGTERM/SIGINT, at once (rolling back) on the second."""

        def handler(signum: int, frame: FrameType | None) -> None:
            if self._stopping:
                raise WorkerStopped(f"stopped by signal {signum} during a batch")
            logger.info("signal %d: stopping after the current batch", signum)
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    # -- progress --------------------------------------------------------------------

    def _report_start(self) -> None:
        if self.progress_interval:
            self.report(
                f"rowsync worker {self.worker_id} on {self.using!r}: strategy {self.strategy}, "
                f"batch {self.batch_size}, max attempts {self.policy.max_attempts}"
            )

    def _maybe_report(self) -> None:
        if not self.progress_interval:
            return
        if time.monotonic() - self._last_report >= self.progress_interval:
            self._report()

    def _report(self, *, final: bool = False) -> None:
        if not self.progress_interval and not final:
            return
        now = time.monotonic()
        window = max(now - self._last_report, 1e-9)
        recent = (self.stats.delivered - self._last_reported_count) / window
        self._last_report = now
        self._last_reported_count = self.stats.delivered
        try:
            pending: int | str = claims.pending_count(self.using)
            dead: int | str = claims.dead_count(self.using)
        except DatabaseError:
            pending = dead = "?"
        prefix = "done: " if final else ""
        self.report(
            f"{prefix}delivered {self.stats.delivered} ({recent:.0f}/s now, "
            f"{self.stats.rate:.0f}/s overall), failed attempts {self.stats.failed}, "
            f"new dead letters {self.stats.dead}, pending {pending}, dead letters {dead}"
        )
