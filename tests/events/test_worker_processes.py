"""The worker as real processes: kill -9, several workers at once, SIGTERM, LISTEN/NOTIFY.

Each worker runs as ``python -m django rowsync worker`` against this test database, with
the receiver of :mod:`tests.events.worker_receivers` (it inserts one receipt per event into
a table whose primary key is the event's key, and logs every attempt to a file).
"""

from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import time

import pytest
from django.db import connection, transaction

from rowsync.backends import get_backend
from rowsync.events import claim as claims
from rowsync.models import DeletedRow
from tests.events.worker_support import (
    capture_articles,
    insert_events,
    receipt_keys,
    receipts,
    spawn_worker,
    worker_env,
)

__all__ = ["receipts"]  # fixture

pytestmark = pytest.mark.django_db(transaction=True)


def log_lines(path):
    if not path.exists():
        return []
    return path.read_text().split("\n")[:-1]


def wait_for(predicate, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def fill(source, total):
    """Put ``total`` events in place; return their keys and the worker environment extras.

    ``queue``: rows written straight into the event table. ``capture``: articles deleted
    by raw SQL, recorded by the capture triggers (into the inbox where the engine has
    one, which the workers move into the queue).
    """
    if source == "queue":
        insert_events(total)
        return list(range(1, total + 1)), {}
    return capture_articles(total), {"ROWSYNC_WORKER_TEST_ARTICLES": "1"}


def left():
    """Return how many events wait (event table and inboxes)."""
    return (
        claims.pending_count("default")
        + DeletedRow.objects.exclude(status=DeletedRow.Status.PENDING).count()
    )


def finish(proc, timeout=60):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"worker did not stop in {timeout}s:\n{out}\n{err}") from None
    return out, err


@pytest.mark.parametrize("source", ["queue", "capture"])
def test_kill_9_at_random_points_then_restart_delivers_every_event_exactly_once(
    receipts, tmp_path, source
):
    total = 10_000
    expected, extra = fill(source, total)
    log = tmp_path / "attempts.log"
    env = worker_env(ROWSYNC_WORKER_TEST_LOG=log, ROWSYNC_WORKER_TEST_SLEEP="0.0002", **extra)
    seed = int(os.environ.get("ROWSYNC_WORKER_TEST_SEED", time.time_ns() % 10_000))
    rng = random.Random(seed)
    kills = 0
    for _ in range(6):
        seen = len(log_lines(log))
        proc = spawn_worker(
            "--batch-size", "100", "--poll-interval", "0.2", "--progress", "0", env=env
        )
        # Kill it at a random moment once it is delivering (startup time varies).
        started = wait_for(lambda s=seen: len(log_lines(log)) > s, 30)
        time.sleep(rng.uniform(0, 0.4))
        alive = proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        assert started or not alive, f"worker never delivered (seed {seed})"
        kills += alive
        if not left():
            break
    assert kills >= 1, f"no worker was killed mid-way (seed {seed})"
    proc = spawn_worker("--drain", "--progress", "0", env=env)
    out, err = finish(proc, timeout=120)
    assert proc.returncode == 0, err

    assert left() == 0, f"events left (seed {seed})"
    assert receipt_keys() == expected, f"seed {seed}"
    attempts = collections.Counter(line.split()[0] for line in log_lines(log))
    assert set(attempts) == {str(k) for k in expected}
    # Side effects outside the database may repeat for the batches a kill interrupted
    # (at least once), while the database receipts above are exactly once.
    redelivered = sum(n - 1 for n in attempts.values())
    assert redelivered <= kills * 100, f"seed {seed}"


@pytest.mark.requires("supports_skip_locked")
@pytest.mark.parametrize("source", ["queue", "capture"])
def test_four_workers_over_50000_events_deliver_each_exactly_once(receipts, tmp_path, source):
    if not get_backend(connection).worker_skip_locked:
        pytest.skip("no SKIP LOCKED on this server")
    # 50,000 where one statement claims and deletes a batch (PostgreSQL); elsewhere the
    # per-row deletes make it slow, and 10,000 show the same.
    total = 50_000 if get_backend(connection).worker_delete_returning else 10_000
    expected, extra = fill(source, total)
    log = tmp_path / "attempts.log"
    env = worker_env(ROWSYNC_WORKER_TEST_LOG=log, **extra)
    procs = [
        spawn_worker("--batch-size", "250", "--poll-interval", "0.2", "--progress", "0", env=env)
        for _ in range(4)
    ]
    try:
        assert wait_for(lambda: not left(), 240, interval=0.2)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        results = [finish(proc) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0, 0], results
    assert receipt_keys() == expected
    lines = log_lines(log)
    keys = collections.Counter(line.split()[0] for line in lines)
    twice = [key for key, n in keys.items() if n > 1]
    assert not twice, f"delivered more than once: {twice[:10]} {[r[1][-3000:] for r in results]}"
    assert len(keys) == total
    by_worker = collections.Counter(line.split()[1] for line in lines)
    assert len(by_worker) >= 2, by_worker  # they really worked side by side


def test_two_workers_share_the_queue_on_every_engine(receipts, tmp_path):
    total = 3000
    insert_events(total)
    log = tmp_path / "attempts.log"
    env = worker_env(ROWSYNC_WORKER_TEST_LOG=log)
    procs = [
        spawn_worker("--drain", "--batch-size", "50", "--progress", "0", env=env) for _ in range(2)
    ]
    results = [finish(proc, timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], results
    # Drain may stop while the other worker still holds the last batch; they are gone now.
    assert DeletedRow.objects.count() == 0
    assert receipt_keys() == list(range(1, total + 1))
    keys = collections.Counter(line.split()[0] for line in log_lines(log))
    assert max(keys.values()) == 1 and len(keys) == total


def test_sigterm_finishes_the_batch_in_progress_and_exits_cleanly(receipts, tmp_path):
    total = 400
    insert_events(total)
    log = tmp_path / "attempts.log"
    env = worker_env(ROWSYNC_WORKER_TEST_LOG=log, ROWSYNC_WORKER_TEST_SLEEP="0.01")
    proc = spawn_worker("--batch-size", "50", "--progress", "0", env=env)
    assert wait_for(lambda: len(log_lines(log)) > 0, 30)
    proc.send_signal(signal.SIGTERM)
    out, err = finish(proc, timeout=30)
    assert proc.returncode == 0, err
    assert "done: delivered" in out
    done = len(receipt_keys())
    # Stopped early, on a batch boundary, with nothing half-done.
    assert 0 < done < total
    assert done % 50 == 0
    assert len(log_lines(log)) == done
    assert DeletedRow.objects.count() == total - done


def test_second_signal_stops_at_once_and_rolls_the_batch_back(receipts, tmp_path):
    total = 200
    insert_events(total)
    log = tmp_path / "attempts.log"
    env = worker_env(ROWSYNC_WORKER_TEST_LOG=log, ROWSYNC_WORKER_TEST_SLEEP="0.05")
    proc = spawn_worker("--batch-size", "200", "--progress", "0", env=env)
    assert wait_for(lambda: len(log_lines(log)) > 0, 30)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = finish(proc, timeout=30)
    assert proc.returncode == 1
    assert "rolled back" in err
    assert receipt_keys() == []
    assert DeletedRow.objects.count() == total


@pytest.mark.requires("supports_notify")
def test_a_raw_delete_wakes_an_idle_worker_through_the_capture_trigger(receipts, tmp_path):
    env = worker_env(ROWSYNC_WORKER_TEST_ARTICLES="1")
    proc = spawn_worker("--poll-interval", "120", "--progress", "3600", env=env)
    try:
        assert wait_for(lambda: proc.stdout.readline().startswith("rowsync worker"), 30)
        time.sleep(0.5)
        started = time.monotonic()
        pks = capture_articles(3)  # the capture trigger notifies: nobody claimed the rows
        assert wait_for(lambda: receipt_keys() == pks, 20)
        assert time.monotonic() - started < 20
    finally:
        proc.send_signal(signal.SIGTERM)
        finish(proc)


@pytest.mark.requires("supports_notify")
def test_notify_wakes_an_idle_worker_long_before_its_poll(receipts, tmp_path):
    env = worker_env()
    proc = spawn_worker("--poll-interval", "120", "--progress", "3600", env=env)
    try:
        # The worker says hello once it listens and found the queue empty.
        assert wait_for(lambda: proc.stdout.readline().startswith("rowsync worker"), 30)
        time.sleep(0.5)
        # The event table's trigger sends the NOTIFY when the transaction commits.
        with transaction.atomic():
            insert_events(3)
        started = time.monotonic()
        assert wait_for(lambda: len(receipt_keys()) == 3, 20)
        assert time.monotonic() - started < 20
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = finish(proc)
    assert proc.returncode == 0, err


def test_polling_finds_events_nobody_announced(receipts):
    proc = spawn_worker("--poll-interval", "0.2", "--progress", "0")
    try:
        time.sleep(1)
        insert_events(3)
        assert wait_for(lambda: len(receipt_keys()) == 3, 30)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = finish(proc)
    assert proc.returncode == 0, err
