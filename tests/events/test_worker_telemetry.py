"""What a worker tells the outside world, in this process: heartbeats, structured logs,
observers, Prometheus metrics."""

from __future__ import annotations

import logging
import sys
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

try:
    import prometheus_client
except ImportError:  # the prometheus extra (in the test extra, so present in CI)
    prometheus_client = None

from rowsync.events.heartbeat import Heartbeat, TrailingMinute, stale_after
from rowsync.events.telemetry import WorkerObserver
from rowsync.models import DeletedRow, WorkerHeartbeat
from tests.events.worker_support import insert_events, make_worker

pytestmark = pytest.mark.django_db


class Receiver:
    """A post_delete receiver of ``blog.Article`` that records pks and refuses ``FAIL``."""

    def __init__(self):
        self.FAIL = set()
        self.seen = []

    def __call__(self, sender, instance, **kwargs):
        self.seen.append(str(instance.pk))
        if str(instance.pk) in self.FAIL:
            raise RuntimeError(f"receiver refuses article {instance.pk}")


@pytest.fixture
def receiver():
    from django.db.models.signals import post_delete

    from blog.models import Article

    rec = Receiver()
    post_delete.connect(rec, sender=Article, weak=False, dispatch_uid="tests.telemetry")
    yield rec
    post_delete.disconnect(sender=Article, dispatch_uid="tests.telemetry")


class Spy(WorkerObserver):
    """Record the heartbeat row as each hook sees it (after the heartbeat's own write)."""

    def __init__(self):
        self.rows = []
        self.hooks = []

    def _look(self, worker, hook):
        self.hooks.append(hook)
        self.rows.append(
            WorkerHeartbeat.objects.filter(worker_id=worker.worker_id)
            .values("state", "delivered", "failed", "dead", "delivered_last_minute", "pid")
            .first()
        )

    def started(self, worker):
        self._look(worker, "started")

    def batch(self, worker, delivered, failed, seconds):
        self._look(worker, "batch")

    def stopped(self, worker):
        self._look(worker, "stopped")


def test_heartbeat_row_lives_while_the_worker_runs(receiver):
    import os

    insert_events(30)
    spy = Spy()
    worker = make_worker(batch_size=10, heartbeat=0.001, observers=[spy], worker_id="w-1")
    stats = worker.run(drain=True)
    assert stats.delivered == 30
    assert spy.hooks == ["started", "batch", "batch", "batch", "stopped"]
    first, *batches, last = spy.rows
    assert first["state"] == "idle" and first["delivered"] == 0 and first["pid"] == os.getpid()
    assert [row["delivered"] for row in batches] == [10, 20, 30]
    assert [row["state"] for row in batches] == ["busy"] * 3
    assert batches[-1]["delivered_last_minute"] == 30
    assert last is None  # removed when the loop ended
    assert not WorkerHeartbeat.objects.exists()


def test_heartbeats_are_spaced_by_the_interval(receiver):
    insert_events(30)
    spy = Spy()
    make_worker(batch_size=10, heartbeat=3600, observers=[spy], worker_id="w-2").run(drain=True)
    # Written once at the start; the batches came too soon for another write.
    assert [row["delivered"] for row in spy.rows[1:-1]] == [0, 0, 0]


def test_a_worker_replaces_its_own_old_row_and_forgets_day_old_ones(receiver):
    from datetime import timedelta

    from django.utils import timezone

    old = timezone.now() - timedelta(days=2)
    for worker_id in ("w-3", "gone"):
        WorkerHeartbeat.objects.create(
            worker_id=worker_id, started_at=old, seen_at=old, delivered=99
        )
    WorkerHeartbeat.objects.create(worker_id="recent", started_at=old, seen_at=timezone.now())
    spy = Spy()
    make_worker(observers=[spy], worker_id="w-3").run(drain=True)
    assert spy.rows[0]["delivered"] == 0
    assert list(WorkerHeartbeat.objects.values_list("worker_id", flat=True)) == ["recent"]


def test_heartbeats_send_no_model_signals(receiver):
    from django.db.models.signals import post_delete, post_save, pre_delete, pre_save

    heard = []

    def spy(sender, **kwargs):
        heard.append(sender.__name__)

    hooks = (pre_save, post_save, pre_delete, post_delete)
    for hook in hooks:
        hook.connect(spy, weak=False, dispatch_uid="tests.telemetry.spy")
    try:
        insert_events(3)
        make_worker(heartbeat=0.001, worker_id="w-quiet").run(drain=True)
    finally:
        for hook in hooks:
            hook.disconnect(dispatch_uid="tests.telemetry.spy")
    assert heard == ["Article"] * 3  # the events' own post_delete only


def test_no_heartbeat_with_interval_zero(receiver):
    spy = Spy()
    make_worker(heartbeat=0, observers=[spy]).run(drain=True)
    assert spy.rows == [None, None]


@pytest.mark.django_db(transaction=True)  # renaming a table commits on MariaDB
def test_a_failing_heartbeat_never_stops_delivery(receiver, caplog):
    """The heartbeat table is gone (renamed away): the worker warns and delivers."""
    table = WorkerHeartbeat._meta.db_table
    away = f"{table}_away"
    editor_sql = "ALTER TABLE {} RENAME TO {}"
    q = connection.ops.quote_name
    insert_events(25)
    with connection.cursor() as cursor:
        cursor.execute(editor_sql.format(q(table), q(away)))
    try:
        with caplog.at_level(logging.WARNING, logger="rowsync.worker"):
            stats = make_worker(batch_size=10, heartbeat=0.001, worker_id="w-4").run(drain=True)
        # Meanwhile the status cannot be read: exit status 1, rowsync_up 0.
        with pytest.raises(CommandError, match="rowsync_worker_heartbeat") as info:
            call_command("rowsync", "status", stdout=StringIO())
        assert info.value.returncode == 1
        if prometheus_client is not None:
            from rowsync.events.metrics import RowsyncCollector

            registry = prometheus_client.CollectorRegistry()
            registry.register(RowsyncCollector(["default"]))
            assert scrape(registry) == {("rowsync_up", (("database", "default"),)): 0}
    finally:
        with connection.cursor() as cursor:
            cursor.execute(editor_sql.format(q(away), q(table)))
    assert stats.delivered == 25
    assert not DeletedRow.objects.exists()
    warnings = [r for r in caplog.records if "heartbeat of worker w-4" in r.getMessage()]
    assert len(warnings) >= 2  # not recorded (start, batches), not removed (stop)
    assert {r.worker_id for r in warnings} == {"w-4"}


def test_an_observer_that_raises_is_logged_and_skipped(receiver, caplog):
    class Broken(WorkerObserver):
        def batch(self, worker, delivered, failed, seconds):
            raise RuntimeError("observer broke")

    insert_events(5)
    with caplog.at_level(logging.WARNING, logger="rowsync.worker"):
        stats = make_worker(observers=[Broken()]).run(drain=True)
    assert stats.delivered == 5
    assert any("Broken.batch failed: observer broke" in r.getMessage() for r in caplog.records)


def test_log_records_carry_structured_fields(receiver, caplog):
    insert_events(4)
    receiver.FAIL.add("2")
    worker = make_worker(worker_id="w-5")
    with caplog.at_level(logging.DEBUG, logger="rowsync.worker"):
        worker.run(drain=True)
    failed = [r for r in caplog.records if "failed attempt" in r.getMessage()]
    assert failed, [r.getMessage() for r in caplog.records]
    record = failed[0]
    assert record.levelno == logging.WARNING
    assert (record.worker_id, record.database, record.model, record.pk) == (
        "w-5",
        "default",
        "blog.Article",
        "2",
    )
    assert record.op == "D" and record.attempts == 1 and record.dead is False
    assert "refuses article 2" in record.error and isinstance(record.event_id, int)
    # The last attempt makes a dead letter: ERROR.
    assert failed[-1].levelno == logging.ERROR and failed[-1].dead is True
    delivered = [r for r in caplog.records if r.getMessage().startswith("delivered event")]
    assert sorted(r.pk for r in delivered) == ["1", "3", "4"]
    batches = [r for r in caplog.records if r.getMessage().startswith("batch: ")]
    assert batches and all(r.duration >= 0 and r.worker_id == "w-5" for r in batches)
    assert sum(r.events for r in batches) == 3


def test_trailing_minute_counts_only_the_last_minute():
    window = TrailingMinute()
    start = window._samples[0][0]
    assert window.add(10, 1, now=start + 5) == (10, 1)
    assert window.add(25, 1, now=start + 30) == (25, 1)
    assert window.add(40, 2, now=start + 30.5) == (40, 2)  # same second: one sample
    # 70 s in: the baseline is the newest sample at least a minute old (5 s: 10, 1).
    assert window.add(50, 2, now=start + 70) == (40, 1)
    assert window.add(50, 2, now=start + 200) == (0, 0)


def test_stale_after_is_three_heartbeats_and_at_least_30_seconds(settings):
    assert stale_after(1) == 30.0
    assert stale_after(20) == 60.0
    settings.ROWSYNC_WORKER_HEARTBEAT = 15
    assert stale_after() == 45.0
    assert Heartbeat().interval == 15


# -- Prometheus, in this process ---------------------------------------------------------


def scrape(registry):
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    found = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_collector_and_worker_counters(receiver):
    pytest.importorskip("prometheus_client")  # in the test extra: never skipped in CI
    from prometheus_client import CollectorRegistry

    from rowsync.events.metrics import RowsyncCollector, WorkerMetrics

    registry = CollectorRegistry()
    registry.register(RowsyncCollector(["default"]))
    counters = WorkerMetrics(registry)
    insert_events(6)
    insert_events(2, start=100, label="blog.Blog", status=DeletedRow.Status.DEAD)
    before = scrape(registry)
    db = ("database", "default")
    assert before[("rowsync_up", (db,))] == 1
    assert (
        before[("rowsync_backlog_events", (db, ("model", "blog.Article"), ("place", "queue")))]
        == 6
    )
    assert before[("rowsync_dead_letters", (db, ("model", "blog.Blog")))] == 2
    assert before[("rowsync_lag_seconds", (db,))] >= 0
    receiver.FAIL.add("3")
    from rowsync.events.retry import RetryPolicy

    # Event 3 fails once and waits an hour for its retry.
    make_worker(observers=[counters], policy=RetryPolicy(base_delay=3600)).run(drain=True)
    after = scrape(registry)
    article = (db, ("model", "blog.Article"))
    assert after[("rowsync_worker_delivered_total", article)] == 5
    assert after[("rowsync_worker_failures_total", article)] == 1
    assert (
        after[("rowsync_backlog_events", (db, ("model", "blog.Article"), ("place", "queue")))] == 1
    )
    assert after[("rowsync_worker_batch_seconds_count", (db,))] == 1


def test_metrics_without_prometheus_client_is_a_command_error(monkeypatch):
    from rowsync.events import metrics

    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # import now fails
    with pytest.raises(metrics.MetricsUnavailable):
        metrics.require()
    with pytest.raises(CommandError, match=r"django-rowsync\[prometheus\]"):
        call_command("rowsync", "worker", "--drain", "--metrics-port", "0", stdout=StringIO())
    # Without --metrics-port nothing needs it.
    call_command("rowsync", "worker", "--drain", "--progress", "0", stdout=StringIO())


@pytest.mark.parametrize("args", [["--metrics-port", "70000"], ["--heartbeat", "-1"]])
def test_bad_worker_options_are_command_errors(args):
    with pytest.raises(CommandError):
        call_command("rowsync", "worker", "--drain", *args, stdout=StringIO())
