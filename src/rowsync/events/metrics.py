"""Prometheus metrics (the optional ``prometheus`` extra: ``prometheus-client``).

Two sources, usable apart:

* :class:`RowsyncCollector` reads a :class:`~rowsync.events.status.Snapshot` of each
  database at every scrape: backlog per model (event table and inboxes), lag (age of the
  oldest pending event), leases in force, dead letters per model, workers alive and
  stale. Register it in any registry (yours, django-prometheus's, the default one); any
  process that reaches the database can export it.
* :class:`WorkerMetrics`, a worker observer, counts what one worker process delivers:
  events delivered, failed attempts and new dead letters per model, and batch durations.

``manage.py rowsync worker --metrics-port PORT`` serves both (:func:`serve`).
``prometheus_client`` is imported only by these functions and methods: without it,
importing this module and everything else in rowsync works; :func:`require` says what to
install.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from django.db import DatabaseError, connections

from rowsync.events.claim import ClaimedEvent
from rowsync.events.telemetry import Failure, WorkerObserver, WorkerView
from rowsync.exceptions import RowsyncError

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

__all__ = ["MetricsUnavailable", "RowsyncCollector", "WorkerMetrics", "require", "serve"]

logger = logging.getLogger("rowsync.metrics")


class MetricsUnavailable(RowsyncError):
    """``prometheus-client`` is not installed."""


def require() -> None:
    """Raise :class:`MetricsUnavailable` unless ``prometheus_client`` can be imported."""
    try:
        import prometheus_client  # noqa: F401
    except ImportError as exc:
        raise MetricsUnavailable(
            "Prometheus metrics need prometheus-client: pip install 'django-rowsync[prometheus]'"
        ) from exc


class RowsyncCollector:
    """A Prometheus collector of the delivery state of the databases ``databases``.

    Each scrape runs a few ``COUNT`` queries per database (:func:`snapshot`) on the
    scraping thread's connection, closed afterwards unless it was already open. A
    database that cannot be read reports ``rowsync_up 0`` and nothing else.

    Example:
        ``prometheus_client.REGISTRY.register(RowsyncCollector(["default"]))``
    """

    def __init__(self, databases: Iterable[str] = ("default",)) -> None:
        self.databases = list(databases)

    def describe(self) -> list[Any]:
        """Return nothing: the registry must not scrape (query) at registration."""
        return []

    def collect(self) -> Iterator[Any]:
        """Yield the metric families of every database."""
        from prometheus_client.core import GaugeMetricFamily

        families = {
            "up": GaugeMetricFamily(
                "rowsync_up", "1 when the database's status could be read", labels=["database"]
            ),
            "backlog": GaugeMetricFamily(
                "rowsync_backlog_events",
                "Events waiting for delivery (place: queue = event table, inbox)",
                labels=["database", "model", "place"],
            ),
            "lag": GaugeMetricFamily(
                "rowsync_lag_seconds",
                "Age of the oldest pending event of the event table (0: none)",
                labels=["database"],
            ),
            "in_flight": GaugeMetricFamily(
                "rowsync_in_flight_events",
                "Pending events under a lease that runs into the future",
                labels=["database"],
            ),
            "dead": GaugeMetricFamily(
                "rowsync_dead_letters", "Dead letters", labels=["database", "model"]
            ),
            "workers": GaugeMetricFamily(
                "rowsync_workers",
                "Workers by heartbeat (state: alive, stale)",
                labels=["database", "state"],
            ),
        }
        for using in self.databases:
            self._collect_one(using, families)
        yield from families.values()

    def _collect_one(self, using: str, families: dict[str, Any]) -> None:
        from rowsync.events.status import snapshot

        connection = connections[using]
        was_open = connection.connection is not None
        try:
            snap = snapshot(using)
        except DatabaseError as exc:
            logger.warning("metrics: cannot read database %r: %s", using, exc)
            families["up"].add_metric([using], 0)
            return
        finally:
            if not was_open and not connection.in_atomic_block:
                connection.close()
        families["up"].add_metric([using], 1)
        for place, counts in (("queue", snap.queued), ("inbox", snap.inbox)):
            for label, count in counts.items():
                families["backlog"].add_metric([using, label, place], count)
        families["lag"].add_metric([using], snap.oldest_age or 0.0)
        families["in_flight"].add_metric([using], sum(snap.in_flight.values()))
        for label, count in snap.dead.items():
            families["dead"].add_metric([using, label], count)
        families["workers"].add_metric([using, "alive"], snap.alive)
        families["workers"].add_metric([using, "stale"], snap.stale)


class WorkerMetrics(WorkerObserver):
    """Count one worker's deliveries for Prometheus (a worker observer).

    Args:
        registry: Where the metrics go (default: ``prometheus_client``'s ``REGISTRY``).
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        from prometheus_client import REGISTRY, Counter, Histogram

        registry = REGISTRY if registry is None else registry
        labels = ["database", "model"]
        self.delivered = Counter(
            "rowsync_worker_delivered",
            "Events this worker delivered",
            labels,
            registry=registry,
        )
        self.failures = Counter(
            "rowsync_worker_failures",
            "Failed delivery attempts of this worker",
            labels,
            registry=registry,
        )
        self.dead_letters = Counter(
            "rowsync_worker_dead_letters",
            "Events this worker made dead letters",
            labels,
            registry=registry,
        )
        self.batch_seconds = Histogram(
            "rowsync_worker_batch_seconds",
            "Wall time of one worker batch",
            ["database"],
            registry=registry,
        )

    def batch(
        self,
        worker: WorkerView,
        delivered: Sequence[ClaimedEvent],
        failed: Sequence[Failure],
        seconds: float,
    ) -> None:
        """Count the batch's events per model."""
        # {model label: events}
        per_model: dict[str, int] = {}
        for event in delivered:
            per_model[event.model_label] = per_model.get(event.model_label, 0) + 1
        for label, count in per_model.items():
            self.delivered.labels(worker.using, label).inc(count)
        for failure in failed:
            self.failures.labels(worker.using, failure.event.model_label).inc()
            if failure.dead:
                self.dead_letters.labels(worker.using, failure.event.model_label).inc()
        self.batch_seconds.labels(worker.using).observe(seconds)


def serve(port: int, addr: str, databases: Sequence[str]) -> tuple[WorkerMetrics, int]:
    """Serve ``/metrics`` on ``addr:port`` from a daemon thread.

    The registry holds the worker's counters, a :class:`RowsyncCollector` of
    ``databases`` and the process collector (CPU, memory, open files).

    Returns:
        The observer to give the worker, and the port bound (``port`` 0 picks a free one).

    Raises:
        MetricsUnavailable: ``prometheus-client`` is not installed.
        OSError: The port cannot be bound.
    """
    require()
    from prometheus_client import CollectorRegistry, ProcessCollector, start_http_server

    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    registry.register(RowsyncCollector(databases))
    observer = WorkerMetrics(registry)
    server, _thread = start_http_server(port, addr=addr, registry=registry)
    return observer, int(server.server_port)
