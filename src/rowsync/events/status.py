"""The state of delivery on one database, read at once: ``manage.py rowsync status`` and
the Prometheus collector (:mod:`rowsync.events.metrics`) both show a :class:`Snapshot`.

Every figure comes from the database, so any process can read it: pending events per
model in the event table and in the inboxes (rows a raw-SQL delete left there on SQLite
and PostgreSQL), the age of the oldest pending event, leases in force, dead letters, and
the workers' heartbeats.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.db.models import Count, DurationField, ExpressionWrapper, F, Max, Min, QuerySet
from django.db.models.functions import Now
from django.utils import timezone

from rowsync.events import inbox
from rowsync.events.heartbeat import stale_after as default_stale_after
from rowsync.events.operator import backlog
from rowsync.models import DeletedRow, WorkerHeartbeat

__all__ = ["Snapshot", "WorkerState", "snapshot"]

#: Version of the ``--json`` document (raised when a key changes meaning or goes away).
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class WorkerState:
    """One worker's heartbeat row, with its age on the database's clock."""

    worker_id: str
    hostname: str
    pid: int
    state: str
    started_at: datetime
    seen_at: datetime
    #: Seconds since ``seen_at``.
    age: float
    alive: bool
    delivered: int
    failed: int
    dead: int
    delivered_last_minute: int
    failed_last_minute: int

    def as_dict(self) -> dict[str, Any]:
        """Return the worker as JSON-ready values (times in ISO 8601)."""
        return {
            "worker_id": self.worker_id,
            "hostname": self.hostname,
            "pid": self.pid,
            "state": self.state,
            "started_at": self.started_at.isoformat(),
            "seen_at": self.seen_at.isoformat(),
            "age_seconds": round(self.age, 3),
            "alive": self.alive,
            "delivered": self.delivered,
            "failed": self.failed,
            "dead": self.dead,
            "delivered_last_minute": self.delivered_last_minute,
            "failed_last_minute": self.failed_last_minute,
        }


@dataclass(frozen=True)
class Snapshot:
    """Delivery on one database at one moment."""

    database: str
    taken_at: datetime
    #: {model label: pending events in the event table (retries and leased ones included)}
    queued: dict[str, int]
    #: {model label: rows waiting in the model's inbox}
    inbox: dict[str, int]
    #: {model label: dead letters}
    dead: dict[str, int]
    #: {claimant: pending events whose lease runs into the future}
    in_flight: dict[str, int]
    #: Seconds since the oldest pending event of the event table was written (None: none).
    oldest_age: float | None
    stale_after: float
    workers: list[WorkerState] = field(default_factory=list)

    @property
    def pending(self) -> dict[str, int]:
        """Return ``{model label: events waiting}``, event table and inbox together."""
        totals = dict(self.queued)
        for label, count in self.inbox.items():
            totals[label] = totals.get(label, 0) + count
        return dict(sorted(totals.items()))

    @property
    def pending_total(self) -> int:
        """Return how many events wait for delivery."""
        return sum(self.queued.values()) + sum(self.inbox.values())

    @property
    def dead_total(self) -> int:
        """Return how many dead letters wait for ``rowsync replay``."""
        return sum(self.dead.values())

    @property
    def alive(self) -> int:
        """Return how many workers sent a heartbeat within ``stale_after`` seconds."""
        return sum(w.alive for w in self.workers)

    @property
    def stale(self) -> int:
        """Return how many heartbeat rows are older than ``stale_after`` seconds."""
        return len(self.workers) - self.alive

    @property
    def rates(self) -> dict[str, int]:
        """Return the alive workers' deliveries and failed attempts in the last minute."""
        alive = [w for w in self.workers if w.alive]
        return {
            "delivered_last_minute": sum(w.delivered_last_minute for w in alive),
            "failed_last_minute": sum(w.failed_last_minute for w in alive),
        }

    def as_dict(self) -> dict[str, Any]:
        """Return the snapshot as the document ``rowsync status --json`` prints."""
        models = sorted({*self.queued, *self.inbox, *self.dead})
        return {
            "schema": SCHEMA_VERSION,
            "database": self.database,
            "taken_at": self.taken_at.isoformat(),
            "pending": {
                "total": self.pending_total,
                "oldest_age_seconds": _rounded(self.oldest_age),
                "by_model": {
                    label: {
                        "queued": self.queued.get(label, 0),
                        "inbox": self.inbox.get(label, 0),
                    }
                    for label in models
                    if self.queued.get(label) or self.inbox.get(label)
                },
            },
            "in_flight": {"total": sum(self.in_flight.values()), "by_claimant": self.in_flight},
            "dead_letters": {"total": self.dead_total, "by_model": self.dead},
            "workers": {
                "alive": self.alive,
                "stale": self.stale,
                "stale_after_seconds": self.stale_after,
                "list": [w.as_dict() for w in self.workers],
            },
            "rates": self.rates,
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def model_label(label: str) -> str:
    """Return ``app_label.ModelName`` for a label as events store it (``blog.article``).

    Capture triggers write the lower-case label; a label no installed model answers to
    is returned as it is.
    """
    try:
        return str(apps.get_model(label)._meta.label)
    except (LookupError, ValueError):
        return label


def _by(rows: QuerySet[Any, Any], key: str, *, models: bool = True) -> dict[str, int]:
    counts = rows.values(key).annotate(n=Count("pk")).order_by().values_list(key, "n")
    return (
        _merged((str(name), int(n)) for name, n in counts)
        if models
        else {str(name): int(n) for name, n in sorted(counts)}
    )


def _merged(pairs: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Return ``{model label: count}``, labels made canonical and their counts added."""
    totals: dict[str, int] = {}
    for label, count in pairs:
        if count:
            name = model_label(label)
            totals[name] = totals.get(name, 0) + count
    return dict(sorted(totals.items()))


def oldest_age(pending: QuerySet[DeletedRow]) -> float | None:
    """Return the seconds since the oldest of ``pending`` was written (None: none).

    ``MIN(created_at)`` and the database's ``NOW()`` in one query: the database's clock,
    as the triggers' ``created_at`` is, and no per-row date arithmetic (which SQLite does
    in Python).
    """
    found = pending.aggregate(oldest=Min("created_at"), now=Max(Now()))
    if found["oldest"] is None:
        return None
    return _seconds(found["now"] - found["oldest"])


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else max(value.total_seconds(), 0.0)


def inbox_counts(using: str) -> dict[str, int]:
    """Return ``{model label: rows in its inbox}`` for the inboxes that hold rows."""
    return _merged(inbox.counts(using).items())


def workers(using: str, stale_after: float) -> list[WorkerState]:
    """Return every heartbeat row of database ``using``, oldest worker first."""
    rows = (
        WorkerHeartbeat.objects.using(using)
        .annotate(age=ExpressionWrapper(Now() - F("seen_at"), output_field=DurationField()))
        .order_by("started_at", "worker_id")
    )
    found = []
    for row in rows:
        age = _seconds(row.age) or 0.0
        found.append(
            WorkerState(
                worker_id=row.worker_id,
                hostname=row.hostname,
                pid=row.pid,
                state=row.state,
                started_at=row.started_at,
                seen_at=row.seen_at,
                age=age,
                alive=age <= stale_after,
                delivered=row.delivered,
                failed=row.failed,
                dead=row.dead,
                delivered_last_minute=row.delivered_last_minute,
                failed_last_minute=row.failed_last_minute,
            )
        )
    return found


def snapshot(using: str = "default", *, stale_after: float | None = None) -> Snapshot:
    """Read the state of delivery on database ``using``.

    Args:
        using: Database alias.
        stale_after: Seconds without a heartbeat after which a worker is stale (default
            :func:`rowsync.events.heartbeat.stale_after`).

    Raises:
        django.db.DatabaseError: The database cannot be read.
    """
    limit = default_stale_after() if stale_after is None else stale_after
    events = DeletedRow.objects.using(using)
    pending = events.filter(status=DeletedRow.Status.PENDING)
    now = timezone.now()
    # The admin's backlog page and this read count the same rows the same way.
    rows = backlog(using)
    return Snapshot(
        database=using,
        taken_at=now,
        queued=_merged((row.model_label, row.pending) for row in rows),
        inbox=_merged((row.model_label, row.inbox) for row in rows),
        dead=_merged((row.model_label, row.dead) for row in rows),
        in_flight=_by(pending.filter(claimed_until__gt=now), "claimed_by", models=False),
        oldest_age=oldest_age(pending),
        stale_after=limit,
        workers=workers(using, limit),
    )
