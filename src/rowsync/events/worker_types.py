"""The small pieces the worker and :mod:`rowsync.events.replay` share: how one event is
delivered (:data:`Deliver`), the run counters, and the stop exception."""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rowsync.events.claim import ClaimedEvent
from rowsync.exceptions import RowsyncError
from rowsync.models import DeletedRow

__all__ = ["Deliver", "WorkerStats", "WorkerStopped", "default_deliver", "default_worker_id"]

#: Sends ``post_delete`` for one event on database alias ``using``.
Deliver = Callable[[ClaimedEvent | DeletedRow, str], None]


class WorkerStopped(RowsyncError):
    """A second SIGTERM/SIGINT asked the worker to stop at once (the batch rolls back)."""


def default_worker_id() -> str:
    """Return a name unique to this process: ``host:pid:random``."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(3)}"


def default_deliver() -> Deliver:
    """Return rowsync's delivery: the dispatcher's ``deliver_one``, with no origin."""
    from rowsync.events.dispatch import deliver_one

    def deliver(event: ClaimedEvent | DeletedRow, using: str) -> None:
        # Not robust: the first receiver error aborts the event's savepoint, so the
        # receivers' database writes for one event commit all together or not at all.
        # Workers pass no origin: the object whose delete caused the row is long gone.
        deliver_one(event, using, None)

    return deliver


@dataclass
class WorkerStats:
    """Counters of one worker run."""

    delivered: int = 0
    failed: int = 0
    dead: int = 0
    batches: int = 0
    #: Idle waits a notification ended.
    notified: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def rate(self) -> float:
        """Return delivered events per second since the start."""
        elapsed = time.monotonic() - self.started
        return self.delivered / elapsed if elapsed > 0 else 0.0
