"""Operating real worker processes: heartbeats, ``rowsync status`` as a health check (its
exit status from a real ``manage.py``), and a real HTTP scrape of ``--metrics-port``."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from rowsync.events.cli_status import UNHEALTHY
from rowsync.models import WorkerHeartbeat
from tests.events.worker_support import (
    ROOT,
    insert_events,
    receipt_keys,
    receipts,
    spawn_worker,
    worker_env,
)

__all__ = ["receipts"]  # fixture

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(predicate, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def stop(proc, sig=signal.SIGTERM, timeout=30):
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"worker did not stop in {timeout}s:\n{out}\n{err}") from None


def status(*args):
    """Run ``python -m django rowsync status ARGS`` as the operator would."""
    cmd = [sys.executable, "-m", "django", "rowsync", "--skip-checks", "status", *args]
    done = subprocess.run(
        cmd, cwd=ROOT, env=worker_env(), capture_output=True, text=True, timeout=120
    )
    return done.returncode, done.stdout, done.stderr


def heartbeat(worker_id):
    return WorkerHeartbeat.objects.filter(worker_id=worker_id).values().first()


def scrape(url):
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_a_worker_beats_serves_metrics_and_leaves_cleanly(receipts):
    pytest.importorskip("prometheus_client")  # in the test extra: never skipped in CI
    proc = spawn_worker(
        "--worker-id",
        "ops-1",
        "--heartbeat",
        "0.2",
        "--poll-interval",
        "0.1",
        "--progress",
        "0",
        "--metrics-port",
        "0",
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("metrics on http://127.0.0.1:"), (line, proc.stderr.read())
        url = line.split()[-1]
        assert wait_for(lambda: heartbeat("ops-1") is not None, 30)
        first = heartbeat("ops-1")
        # Idle, it still beats: seen_at moves on.
        assert wait_for(lambda: heartbeat("ops-1")["seen_at"] > first["seen_at"], 10)
        assert heartbeat("ops-1")["state"] == "idle"

        insert_events(20)
        assert wait_for(lambda: len(receipt_keys()) == 20, 30)
        assert wait_for(lambda: heartbeat("ops-1")["delivered"] == 20, 10)
        row = heartbeat("ops-1")
        assert row["delivered_last_minute"] == 20 and row["failed"] == 0

        metrics = scrape(url)
        db = ("database", "default")
        assert metrics[("rowsync_up", (db,))] == 1
        assert metrics[("rowsync_worker_delivered_total", (db, ("model", "blog.Article")))] == 20
        assert metrics[("rowsync_workers", (db, ("state", "alive")))] == 1
        assert metrics[("rowsync_lag_seconds", (db,))] == 0
        assert ("process_cpu_seconds_total", ()) in metrics

        code, out, err = status(
            "--json", "--require-workers", "1", "--max-pending", "0", "--require-worker", "ops-1"
        )
        assert code == 0, err
        doc = json.loads(out)
        assert doc["workers"]["alive"] == 1
        assert doc["workers"]["list"][0]["worker_id"] == "ops-1"
        assert doc["rates"]["delivered_last_minute"] == 20
    finally:
        out, err = stop(proc)
    assert proc.returncode == 0, err
    assert heartbeat("ops-1") is None  # a clean stop removes the row
    code, out, err = status("--require-workers", "1")
    assert code == UNHEALTHY
    assert "require-workers: 0 (wanted >= 1) CROSSED" in err


def test_a_killed_worker_leaves_a_stale_heartbeat(receipts):
    proc = spawn_worker(
        "--worker-id", "ops-2", "--heartbeat", "0.2", "--poll-interval", "0.1", "--progress", "0"
    )
    try:
        assert wait_for(lambda: heartbeat("ops-2") is not None, 30)
    finally:
        stop(proc, signal.SIGKILL)
    assert heartbeat("ops-2") is not None
    time.sleep(1.0)
    code, out, err = status("--json", "--stale-after", "0.5", "--max-stale", "0")
    assert code == UNHEALTHY, err
    doc = json.loads(out)
    assert (doc["workers"]["alive"], doc["workers"]["stale"]) == (0, 1)
    assert doc["healthy"] is False
    # Its trailing-minute counts no longer add to the rates.
    assert doc["rates"] == {"delivered_last_minute": 0, "failed_last_minute": 0}
    # Unknown option values are refused before anything is read (argparse: exit 2).
    assert status("--max-dead", "-3")[0] == 2
