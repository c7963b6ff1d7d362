"""The database server killed (SIGKILL) and restarted in the middle of a delivery.

Each test deletes the articles of a blog (a database cascade, captured by rowsync's
triggers), pauses the receiver at a chosen event, kills the private server, lets the
receiver go on against the dead server, restarts the server and lets a worker deliver
what is left. It then counts the events of the rows really deleted: none may be lost, and
the receipts the receiver commits in the database may not be duplicated. Calls of the
receiver itself (a side effect outside the database) may repeat where the mode is at
least once (docs/events.md, docs/worker.md): they are counted, not refused.
"""

from __future__ import annotations

import signal
import time

import pytest
from django.db import connections

from tests.faults.support import ALIAS, wait_for

pytestmark = pytest.mark.fault_engine("postgresql", "mariadb")


def raw_delete(blog_pk):
    """Delete a blog's articles with SQL, as another program would: the worker's events."""
    with connections[ALIAS].cursor() as cursor:
        cursor.execute("DELETE FROM blog_article WHERE blog_id = %s", [blog_pk])


def deliver_rest(fault, expected, worker=None, timeout=120):
    """Let ``worker`` run until every expected row has its receipt and nothing waits, then
    stop it with SIGTERM, which it must obey cleanly. Without ``worker``, run workers with
    ``--drain`` until then (events leased to a dead process become due meanwhile)."""

    def finished():
        return fault.pending() == 0 and set(fault.receipts()) >= set(map(str, expected))

    if worker is None:
        assert wait_for(lambda: fault.drain() and finished(), timeout, interval=0.2)
        return
    try:
        done = wait_for(finished, timeout, interval=0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=60)
    assert done, f"the worker did not deliver everything:\n{out}\n{err[-3000:]}"
    assert worker.returncode == 0, err[-3000:]


def assert_clean(tally, *, outside_limit):
    assert tally.lost == 0, tally.line()
    assert tally.duplicated == 0, tally.line()
    assert tally.stray == 0, tally.line()
    assert tally.pending == 0, tally.line()
    assert tally.outside_duplicated <= outside_limit, tally.line()


def test_server_killed_during_in_transaction_streaming(fault_db):
    blog, pks = fault_db.make_blog(3000)
    actor = fault_db.actor(blog, ROWSYNC_FAULT_DELIVERY_BATCH="500", ROWSYNC_FAULT_PAUSE_AT="1200")
    fault_db.wait_paused(actor)
    fault_db.kill_server()
    fault_db.resume()
    out, err = actor.communicate(timeout=60)
    # The receiver's next statement meets a dead server: the delete fails as a whole.
    assert actor.returncode == 2, f"{out}\n{err}"
    assert "committed" not in out
    fault_db.restart_server()
    gone = set(pks) - fault_db.present(pks)
    first = fault_db.tally("server killed during in-transaction streaming", gone)
    assert first.expected == 0  # nothing was deleted ...
    assert first.stray == 0 and first.pending == 0  # ... and nothing was kept for it

    (fault_db.folder / "resume").unlink()
    retry = fault_db.actor(blog)
    out, err = retry.communicate(timeout=120)
    assert retry.returncode == 0, f"{out}\n{err}"
    gone = set(pks) - fault_db.present(pks)
    assert gone == set(pks)
    tally = fault_db.tally(
        "server killed during in-transaction streaming, then the delete retried",
        gone,
        notes="receiver calls of the rolled-back attempt repeat, as with Django",
    )
    # In-transaction receivers ran for the rolled-back attempt (as with Django's own
    # post_delete); their database writes rolled back with it.
    assert_clean(tally, outside_limit=1200)


def on_commit_fault(fault, articles, pause_at, fault_name, kill):
    """Delete a blog in on_commit mode, pause its delivery, ``kill``; let a worker finish."""
    blog, pks = fault.make_blog(articles)
    actor = fault.actor(
        blog,
        ROWSYNC_FAULT_DELIVERY="on_commit",
        ROWSYNC_FAULT_LEASE="2",
        ROWSYNC_FAULT_PAUSE_AT=str(pause_at),
    )
    fault.wait_paused(actor)
    kill(actor)
    out, err = actor.communicate(timeout=60)
    assert "committed" in out, f"{out}\n{err}"
    if fault.server.proc is None:
        fault.restart_server()
    gone = set(pks) - fault.present(pks)
    assert gone == set(pks)  # committed before the on-commit delivery began
    deliver_rest(fault, gone)
    tally = fault.tally(fault_name, gone, notes="the worker delivers once the lease ends")
    # On-commit receivers are at least once outside the database (docs/events.md).
    assert_clean(tally, outside_limit=pause_at)


def test_server_killed_during_on_commit_delivery(fault_db):
    def kill(actor):
        fault_db.kill_server()
        fault_db.resume()  # the delivery goes on against a dead server, and fails

    on_commit_fault(fault_db, 2000, 700, "server killed during on-commit delivery", kill)


def paused_worker(fault, articles, batch, pause_at):
    """Delete ``articles`` rows by SQL; start a worker whose receiver pauses at ``pause_at``."""
    blog, pks = fault.make_blog(articles)
    raw_delete(blog)
    worker = fault.worker(
        "--batch-size", str(batch), "--poll-interval", "0.2", ROWSYNC_FAULT_PAUSE_AT=str(pause_at)
    )
    fault.wait_paused(worker)
    return pks, worker


def test_server_killed_during_a_worker_batch(fault_db):
    pks, worker = paused_worker(fault_db, 3000, 500, 800)
    fault_db.kill_server()
    fault_db.resume()
    # The worker meets the dead server, logs it and keeps polling; it reconnects once the
    # server is back.
    fault_db.restart_server()
    deliver_rest(fault_db, pks, worker)
    tally = fault_db.tally(
        "server killed during a worker batch", pks, notes="the batch rolled back and was retried"
    )
    assert_clean(tally, outside_limit=500)


def test_process_killed_during_on_commit_delivery(fault_db):
    on_commit_fault(
        fault_db,
        1000,
        300,
        "process killed (SIGKILL) during on-commit delivery",
        lambda actor: actor.send_signal(signal.SIGKILL),
    )


def test_hung_receiver_in_a_worker_holds_its_batch_until_killed(fault_db):
    pks, hung = paused_worker(fault_db, 2000, 200, 50)
    other = fault_db.worker("--batch-size", "200", "--poll-interval", "0.2")
    # The other worker skips the hung batch (its rows are locked) and delivers the rest.
    assert wait_for(lambda: len(fault_db.receipts()) == len(pks) - 200, 120, 0.2)
    held = fault_db.pending()
    waiting = {str(k) for k in pks} - set(fault_db.receipts())
    assert held == 200 and len(waiting) == 200  # no lease ran out: the batch stays held
    hung.send_signal(signal.SIGKILL)
    hung.communicate()
    # Its connection closed, its locks went with it: the other worker takes the batch.
    deliver_rest(fault_db, pks, other)
    tally = fault_db.tally(
        "receiver hangs in a worker; another worker runs; the hung one is killed",
        pks,
        notes="no lease: the hung batch waits until its worker dies",
    )
    assert_clean(tally, outside_limit=50)


def test_on_commit_receiver_slower_than_its_lease(fault_db):
    # A receiver in on-commit delivery takes longer than ROWSYNC_DELIVERY_LEASE: the lease
    # runs out while the process still delivers. A worker that runs then must not deliver
    # the events a second time.
    lease = 2
    blog, pks = fault_db.make_blog(1000)
    actor = fault_db.actor(
        blog,
        ROWSYNC_FAULT_DELIVERY="on_commit",
        ROWSYNC_FAULT_LEASE=str(lease),
        ROWSYNC_FAULT_PAUSE_AT="300",
    )
    fault_db.wait_paused(actor)
    time.sleep(lease + 1)  # the lease has run out; the receiver still waits
    fault_db.drain()
    fault_db.resume()
    out, err = actor.communicate(timeout=120)
    assert actor.returncode == 0 and "done" in out, f"{out}\n{err[-3000:]}"
    deliver_rest(fault_db, pks)
    tally = fault_db.tally(
        "on-commit receiver slower than the lease; a worker runs meanwhile",
        pks,
        notes="the worker skips rows the delivering process holds",
    )
    assert_clean(tally, outside_limit=0)
