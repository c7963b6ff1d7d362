"""Retry policy of the event worker: back-off between attempts, then a dead letter.

A receiver that raises while the worker delivers an event does not block other events:
the event is put back with ``attempts + 1`` and ``next_attempt_at`` in the future, and
after ``max_attempts`` failed attempts it is parked as a dead letter (status ``X``) with
the reason in ``last_error``. ``manage.py rowsync replay`` re-sends dead letters.
"""

from __future__ import annotations

import random
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta

from rowsync import conf

#: ``last_error`` keeps at most this many characters (the traceback's tail).
MAX_ERROR_CHARS = 4000


@dataclass(frozen=True)
class RetryPolicy:
    """When to try a failed event again, and when to give up.

    The delay before attempt ``n + 1`` (after ``n`` failures) is
    ``min(base_delay * factor ** (n - 1), max_delay)``, spread by up to ``jitter`` (a
    fraction) so that events that failed together do not all come back at once.

    Args:
        max_attempts: Failed attempts after which the event becomes a dead letter.
        base_delay: Seconds to wait after the first failure.
        max_delay: Longest wait in seconds between two attempts.
        factor: Growth of the delay per failure.
        jitter: Fraction of the delay added at random (0 disables it).
    """

    max_attempts: int = 5
    base_delay: float = 5.0
    max_delay: float = 3600.0
    factor: float = 2.0
    jitter: float = 0.1

    @classmethod
    def from_settings(cls) -> RetryPolicy:
        """Return the policy set by ``ROWSYNC_WORKER_MAX_ATTEMPTS`` and ``..._RETRY_DELAY``."""
        base, ceiling = conf.worker_retry_delay()
        return cls(max_attempts=conf.worker_max_attempts(), base_delay=base, max_delay=ceiling)

    def delay(self, attempts: int) -> float:
        """Return the seconds to wait after the ``attempts``-th failure (``attempts >= 1``)."""
        if self.base_delay <= 0:
            return 0.0
        exponent = max(attempts - 1, 0)
        # Cap the exponent: factor ** 1000 overflows a float long before it matters.
        raw = self.base_delay * self.factor ** min(exponent, 64)
        wait = min(raw, self.max_delay)
        if self.jitter > 0:
            wait += wait * self.jitter * random.random()  # spread, not security
        return wait

    def is_exhausted(self, attempts: int) -> bool:
        """Return whether an event that failed ``attempts`` times is a dead letter."""
        return attempts >= self.max_attempts

    def next_attempt_at(self, attempts: int, now: datetime) -> datetime:
        """Return when an event that failed ``attempts`` times may be tried again."""
        return now + timedelta(seconds=self.delay(attempts))


def is_permanent(exc: BaseException) -> bool:
    """Return whether retrying cannot help (the event becomes a dead letter at once).

    True for the dispatcher's "cannot rebuild this row" error (``EventDecodeError``:
    unknown model, row image without a primary key, a value that no longer fits its
    field) and for errors that say so with a true ``permanent`` attribute.
    """
    from rowsync.events.rebuild import EventDecodeError

    return getattr(exc, "permanent", False) is True or isinstance(exc, EventDecodeError)


def describe_error(exc: BaseException) -> str:
    """Return the text stored in ``last_error``: the exception and the end of its traceback.

    The exception line comes first so that the reason reads at a glance in the admin or
    in ``rowsync replay --list``; the traceback's tail follows.
    """
    head = f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}"
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    text = f"{head}\n\n{tb}"
    if len(text) > MAX_ERROR_CHARS:
        keep = MAX_ERROR_CHARS - len(head) - 10
        text = f"{head}\n\n...\n{tb[-keep:]}" if keep > 0 else head[:MAX_ERROR_CHARS]
    return text
