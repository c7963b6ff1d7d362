"""How an idle worker waits: a notification channel where the backend has one (opened
again when it breaks), the poll interval otherwise, in short slices that see signals."""

from __future__ import annotations

import logging
import time

from django.db import connections

from rowsync.backends import WorkerListener, get_backend
from rowsync.events.telemetry import Observers
from rowsync.events.worker_types import WorkerStats

logger = logging.getLogger("rowsync.worker")

#: Seconds between two attempts to open a broken notification channel again.
LISTEN_RETRY = 1.0


class Wakeups:
    """The waiting half of :class:`rowsync.events.worker.Worker`."""

    using: str
    listen: bool
    poll_interval: float
    stats: WorkerStats
    worker_id: str
    observers: Observers
    _stopping: bool
    #: When to try opening a broken notification channel again (None: not broken).
    _listen_retry_at: float | None

    def _open_listener(self) -> WorkerListener | None:
        if not self.listen:
            return None
        try:
            return get_backend(connections[self.using]).worker_listener()
        except Exception as exc:  # no LISTEN: polling still delivers everything
            logger.warning("cannot listen for notifications, polling only: %s", exc)
            return None

    def _idle(self, listener: WorkerListener | None) -> WorkerListener | None:
        """Wait for a notification or the poll interval, in short slices (to see signals).

        A channel that broke (the database restarted) is opened again, at most every
        :data:`LISTEN_RETRY` seconds; once it is back the wait ends, since notifications
        sent meanwhile are lost.
        """
        deadline = time.monotonic() + self.poll_interval
        while not self._stopping:
            self.observers.tick(self, "idle")
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if listener is None:
                listener = self._listen_again()
                if listener is not None:
                    break
                time.sleep(min(left, 0.25))
                continue
            try:
                if listener.wait(min(left, 0.5)):
                    self.stats.notified += 1
                    break
            except Exception as exc:
                logger.warning("notification channel lost, polling until it is back: %s", exc)
                try:
                    listener.close()
                except Exception:  # already broken
                    logger.debug("closing the broken listener failed", exc_info=True)
                listener = None
                self._listen_retry_at = time.monotonic()
        return listener

    def _listen_again(self) -> WorkerListener | None:
        """Open the notification channel again when it broke (None: not yet, or no LISTEN)."""
        if self._listen_retry_at is None or time.monotonic() < self._listen_retry_at:
            return None
        self._listen_retry_at = time.monotonic() + LISTEN_RETRY
        listener = self._open_listener()
        if listener is not None:
            self._listen_retry_at = None
            logger.info("notification channel is back")
        return listener

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._stopping and time.monotonic() < deadline:
            time.sleep(min(deadline - time.monotonic(), 0.25) if seconds > 0 else 0)
