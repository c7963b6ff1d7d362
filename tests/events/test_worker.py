"""The event worker in this process: claiming, delivery, retries, dead letters, replay."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections, transaction
from django.db.models.signals import post_delete
from django.utils import timezone

from blog.models import Article
from rowsync.backends import get_backend
from rowsync.events import claim as claims
from rowsync.events.retry import RetryPolicy
from rowsync.events.worker import replay
from rowsync.models import DeletedRow
from tests.events.worker_support import (
    insert_events,
    make_worker,
    receipt_keys,
    receipts,
    receiver,
)

__all__ = ["receipts", "receiver"]  # fixtures

pytestmark = pytest.mark.django_db(transaction=True)

STRATEGIES = ["skip_locked", "lease"]


def strategy_or_skip(strategy):
    if strategy == "skip_locked" and claims.default_strategy("default") != "skip_locked":
        pytest.skip(f"{connection.vendor} has no SELECT ... FOR UPDATE SKIP LOCKED")
    return strategy


def pending():
    return DeletedRow.objects.filter(status=DeletedRow.Status.PENDING).count()


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_drain_delivers_every_event_once_and_deletes_it(receiver, strategy):
    insert_events(1234)
    seen = []

    def spy(sender, instance, using, origin, **kwargs):
        seen.append((sender, instance.pk, instance.title, using, origin))

    post_delete.connect(spy, sender=Article)
    try:
        stats = make_worker(batch_size=100, strategy=strategy_or_skip(strategy)).run(drain=True)
    finally:
        post_delete.disconnect(spy, sender=Article)
    assert stats.delivered == 1234
    assert stats.batches == 13
    assert DeletedRow.objects.count() == 0
    assert receipt_keys() == list(range(1, 1235))
    assert seen[0] == (Article, 1, "tag 1", "default", None)
    assert sorted(pk for _, pk, *_ in seen) == list(range(1, 1235))


def test_run_once_claims_one_batch_in_id_order(receiver):
    insert_events(25)
    worker = make_worker(batch_size=10)
    assert worker.run_once() == 10
    assert receipt_keys() == list(range(1, 11))
    assert pending() == 15
    assert worker.run_once() == 10
    assert worker.run_once() == 5
    assert worker.run_once() == 0


def test_nothing_to_do_returns_zero(receiver):
    assert make_worker().run_once() == 0
    assert make_worker().run(drain=True).delivered == 0


def test_events_waiting_for_a_retry_or_under_a_live_lease_are_left_alone(receiver):
    now = timezone.now()
    insert_events(1, start=1, next_attempt_at=now + timedelta(hours=1))
    insert_events(1, start=2, claimed_by="other", claimed_until=now + timedelta(hours=1))
    insert_events(1, start=3, claimed_by="crashed", claimed_until=now - timedelta(seconds=1))
    insert_events(1, start=4, next_attempt_at=now - timedelta(seconds=1), attempts=2)
    insert_events(1, start=5, status=DeletedRow.Status.DEAD)
    make_worker().run(drain=True)
    assert receipt_keys() == [3, 4]
    assert sorted(DeletedRow.objects.values_list("pk_text", flat=True)) == ["1", "2", "5"]


def test_failing_receiver_is_retried_with_back_off_and_does_not_block_others(receiver):
    insert_events(50)
    receiver.FAIL.add("7")
    policy = RetryPolicy(max_attempts=3, base_delay=60, jitter=0)
    before = timezone.now()
    stats = make_worker(policy=policy, batch_size=20).run(drain=True)
    assert stats.delivered == 49
    assert stats.failed == 1
    assert receipt_keys() == [k for k in range(1, 51) if k != 7]
    event = DeletedRow.objects.get()
    assert event.pk_text == "7"
    assert event.status == DeletedRow.Status.PENDING
    assert event.attempts == 1
    assert (
        before + timedelta(seconds=59)
        < event.next_attempt_at
        < timezone.now() + timedelta(seconds=61)
    )
    assert "ReceiverFailure: receiver refuses article 7" in event.last_error
    assert "Traceback" in event.last_error
    # Not due yet: a second drain leaves it alone.
    assert make_worker(policy=policy).run(drain=True).failed == 0


def test_receiver_database_writes_roll_back_with_a_failed_attempt(receiver):
    insert_events(3)
    receiver.FAIL.add("2")  # the receiver inserts its receipt, then raises
    make_worker(policy=RetryPolicy(max_attempts=1, base_delay=0)).run(drain=True)
    assert receipt_keys() == [1, 3]


def test_exhausted_event_becomes_a_dead_letter_and_replay_delivers_it(receiver):
    insert_events(10)
    receiver.FAIL.add("4")
    stats = make_worker(policy=RetryPolicy(max_attempts=3, base_delay=0, jitter=0)).run(drain=True)
    assert stats.failed == 3
    assert stats.dead == 1
    dead = DeletedRow.objects.get()
    assert dead.status == DeletedRow.Status.DEAD
    assert dead.attempts == 3
    assert dead.next_attempt_at is None
    assert dead.last_error.startswith("tests.events.worker_receivers.ReceiverFailure")
    # A worker ignores dead letters.
    assert make_worker().run(drain=True).delivered == 0

    out = StringIO()
    call_command("rowsync", "replay", "--list", stdout=out)
    assert f"{dead.pk}\tblog.article\tpk=4\tattempts=3\t" in out.getvalue().lower()

    # Still failing: replay says so, and counts the attempt.
    with pytest.raises(CommandError, match="1 dead letter"):
        call_command(
            "rowsync", "replay", "--id", str(dead.pk), stdout=StringIO(), stderr=StringIO()
        )
    dead.refresh_from_db()
    assert dead.attempts == 4 and dead.status == DeletedRow.Status.DEAD

    receiver.FAIL.clear()
    out = StringIO()
    call_command("rowsync", "replay", "--id", str(dead.pk), stdout=out)
    assert "replayed 1" in out.getvalue()
    assert DeletedRow.objects.count() == 0
    assert receipt_keys() == list(range(1, 11))


def test_replay_all_and_requeue(receiver):
    insert_events(4, status=DeletedRow.Status.DEAD, attempts=5, last_error="boom")
    insert_events(1, start=9, label="blog.Vanished", status=DeletedRow.Status.DEAD)
    with pytest.raises(CommandError, match="choose"):
        call_command("rowsync", "replay", stdout=StringIO())
    out = StringIO()
    call_command("rowsync", "replay", "--requeue", "--model", "blog.Article", stdout=out)
    assert "requeued 4" in out.getvalue()
    assert pending() == 4
    assert set(
        DeletedRow.objects.filter(pk_text__in="1234").values_list("attempts", flat=True)
    ) == {0}
    make_worker().run(drain=True)
    assert receipt_keys() == [1, 2, 3, 4]
    # The event of a model that no longer exists still fails: replay --all reports it.
    with pytest.raises(CommandError):
        call_command("rowsync", "replay", "--all", stdout=StringIO(), stderr=StringIO())
    assert replay("default", ids=[123456]).delivered == []


def test_unknown_model_is_dead_lettered_at_once_with_the_reason(receiver):
    insert_events(1, start=1, label="blog.Vanished")
    insert_events(2, start=2)
    stats = make_worker(policy=RetryPolicy(max_attempts=5, base_delay=0)).run(drain=True)
    assert stats.delivered == 2
    dead = DeletedRow.objects.get()
    assert dead.status == DeletedRow.Status.DEAD
    assert dead.attempts == 1
    assert "blog.Vanished" in dead.last_error and "not installed" in dead.last_error


def test_schema_drift_delivers_what_can_be_rebuilt_or_dead_letters_with_a_reason(receiver):
    # A column dropped since (gone from the model), a column added since (missing from
    # the image), and an image that no longer fits: the first two are delivered, the
    # third is parked with a clear reason, and the worker keeps going.
    insert_events(
        1, start=1, row={"nid": 1, "title": "old", "desc": "d", "blog_id": 1, "colour": "red"}
    )
    insert_events(1, start=2, row={"nid": 2, "title": "no desc", "blog_id": 1})
    insert_events(1, start=3, row={"title": "no pk"})
    insert_events(1, start=4, row={"nid": "not a number", "title": "x"})
    insert_events(1, start=5)
    descs = {}

    def spy(sender, instance, **kwargs):
        descs[instance.pk] = (
            instance.desc if "desc" not in instance.get_deferred_fields() else "<deferred>"
        )

    post_delete.connect(spy, sender=Article)
    try:
        stats = make_worker().run(drain=True)
    finally:
        post_delete.disconnect(spy, sender=Article)
    assert descs == {1: "d", 2: "<deferred>", 5: "<deferred>"}
    assert stats.dead == 2
    reasons = dict(DeletedRow.objects.values_list("pk_text", "last_error"))
    assert set(reasons) == {"3", "4"}
    assert "no primary key column 'nid'" in reasons["3"]
    assert "'not a number'" in reasons["4"]


def test_rolled_back_events_are_never_delivered(receiver):
    # What a capture trigger writes inside a transaction that rolls back, or inside a
    # savepoint that rolls back, never reaches the worker.
    with pytest.raises(RuntimeError), transaction.atomic():
        insert_events(5, start=1)
        raise RuntimeError("roll back")
    with transaction.atomic():
        insert_events(1, start=10)
        try:
            with transaction.atomic():
                insert_events(5, start=20)
                raise RuntimeError("roll back the savepoint")
        except RuntimeError:
            pass
    make_worker().run(drain=True)
    assert receipt_keys() == [10]


def test_on_commit_work_of_receivers_runs_after_the_commit_and_not_for_failures(receiver):
    insert_events(3)
    receiver.FAIL.add("2")
    committed = []

    def later(sender, instance, using, **kwargs):
        in_atomic = connections[using].in_atomic_block
        transaction.on_commit(lambda: committed.append((instance.pk, in_atomic)), using=using)

    post_delete.connect(later, sender=Article)
    try:
        make_worker(policy=RetryPolicy(max_attempts=1, base_delay=0)).run(drain=True)
    finally:
        post_delete.disconnect(later, sender=Article)
    # Receivers run inside the worker's transaction; event 2 failed (its on_commit
    # callback went with its savepoint).
    assert sorted(committed) == [(1, True), (3, True)]


@pytest.mark.requires("supports_skip_locked")
def test_events_locked_by_another_worker_are_skipped(receiver):
    if claims.default_strategy("default") != "skip_locked":
        pytest.skip("no SKIP LOCKED on this server")
    insert_events(6)
    locked = threading.Event()
    release = threading.Event()
    errors = []

    def hold():
        try:
            with transaction.atomic():
                rows = list(
                    DeletedRow.objects.select_for_update().filter(pk_text__in=["1", "2", "3"])
                )
                assert len(rows) == 3
                locked.set()
                release.wait(30)
        except Exception as exc:  # reported below
            errors.append(exc)
            locked.set()
        finally:
            connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert locked.wait(30)
        make_worker().run(drain=True)
        assert receipt_keys() == [4, 5, 6]
    finally:
        release.set()
        thread.join()
    assert not errors
    make_worker().run(drain=True)
    assert receipt_keys() == [1, 2, 3, 4, 5, 6]


def test_worker_command_drains_and_reports_progress(receiver):
    insert_events(30)
    out = StringIO()
    call_command(
        "rowsync", "worker", "--drain", "--batch-size", "7", "--progress", "0.000001", stdout=out
    )
    text = out.getvalue()
    assert "strategy" in text
    assert "done: delivered 30" in text
    assert "pending 0" in text
    assert receipt_keys() == list(range(1, 31))


def test_worker_command_retry_options(receiver):
    insert_events(2)
    receiver.FAIL.add("1")
    call_command(
        "rowsync",
        "worker",
        "--drain",
        "--max-attempts",
        "2",
        "--retry-delay",
        "0",
        "--progress",
        "0",
        stdout=StringIO(),
    )
    dead = DeletedRow.objects.get()
    assert (dead.pk_text, dead.status, dead.attempts) == ("1", "X", 2)


def test_max_events_stops_the_loop(receiver):
    insert_events(30)
    stats = make_worker(batch_size=10).run(max_events=15)
    assert stats.delivered == 20
    assert pending() == 10


def test_retry_policy_back_off():
    policy = RetryPolicy(max_attempts=4, base_delay=2, max_delay=10, jitter=0)
    assert [policy.delay(n) for n in range(1, 6)] == [2, 4, 8, 10, 10]
    assert not policy.is_exhausted(3) and policy.is_exhausted(4)
    jittery = RetryPolicy(base_delay=10, jitter=0.5)
    assert all(10 <= jittery.delay(1) <= 15 for _ in range(50))
    assert RetryPolicy(base_delay=0).delay(9) == 0


@pytest.mark.requires("supports_notify")
def test_a_listening_worker_waits_after_a_short_batch_instead_of_taking_again(receiver):
    # A short batch emptied the queue: what commits later announces itself on the
    # channel, so another take at once would find nothing (a wasted transaction per wake-up).
    takes = []
    passes = []
    worker = make_worker(batch_size=100, poll_interval=60, listen=True)
    # Engines whose workers take inbox rows in the batch skip the take on an event table
    # found empty: count passes by their first statement too.
    first_of_pass = ("EXECUTE ", "SELECT CASE WHEN EXISTS")

    def count_takes(execute, sql, params, many, context):
        if sql.startswith(f'DELETE FROM "{DeletedRow._meta.db_table}"'):
            takes.append(sql)
        if sql.startswith(first_of_pass):
            passes.append(sql)
        return execute(sql, params, many, context)

    def run():
        try:
            with connections["default"].execute_wrapper(count_takes):
                worker.run()
        finally:
            connections["default"].close()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not (takes or passes) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # the first pass found nothing: the worker waits on its channel
        with transaction.atomic():
            insert_events(3)
        while len(receipt_keys()) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)
    finally:
        worker.stop()
        thread.join(10)
    assert receipt_keys() == [1, 2, 3]
    assert worker.stats.notified == 1
    # The first, empty pass (no take where the event table was seen empty); the one that
    # took the 3 events; no pass after it.
    if get_backend(connection).inbox_take:
        assert (len(passes), len(takes)) == (2, 1)
    else:
        assert len(takes) == 2
