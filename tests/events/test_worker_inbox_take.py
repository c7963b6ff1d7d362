"""A worker woken for inbox rows takes them in the transaction that delivers them
(``inbox_take``, PostgreSQL): no move into the event table, no commit before the receivers."""

from __future__ import annotations

import pytest
from django.db import connection

from rowsync.events import inbox
from rowsync.models import DeletedRow
from tests.events.worker_support import (
    capture_articles,
    insert_events,
    make_worker,
    receipt_keys,
    receipts,
    receiver,
)

__all__ = ["receipts", "receiver"]  # fixtures

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.requires("inbox_take")]

EVENTS = f'"{DeletedRow._meta.db_table}"'


class Statements:
    """Record the SQL of the default connection, commits included."""

    def __init__(self) -> None:
        self.sql: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        self.sql.append(sql)
        return execute(sql, params, many, context)


def inbox_rows() -> int:
    return inbox.pending_count("default")


def test_a_wake_up_delivers_inbox_rows_without_moving_them_into_the_event_table(receiver):
    pks = capture_articles(3)
    statements = Statements()
    with connection.execute_wrapper(statements):
        assert make_worker(batch_size=10).run_once() == 3
    assert receipt_keys() == pks
    assert inbox_rows() == 0 and not DeletedRow.objects.exists()
    assert not [s for s in statements.sql if f"INSERT INTO {EVENTS}" in s]
    assert not [s for s in statements.sql if "rowsync.refill" in s]  # no refill transaction


def test_inbox_rows_and_queued_events_share_one_batch(receiver):
    insert_events(2, start=10**6)
    pks = capture_articles(2)
    assert make_worker(batch_size=10).run_once() == 4
    assert receipt_keys() == sorted([*pks, 10**6, 10**6 + 1])
    assert inbox_rows() == 0 and not DeletedRow.objects.exists()


def test_a_full_batch_of_inbox_rows_leaves_the_rest_in_the_inbox(receiver):
    pks = capture_articles(5)
    worker = make_worker(batch_size=2)
    assert worker.run_once() == 2
    assert inbox_rows() == 3 and not DeletedRow.objects.exists()
    assert worker.run(drain=True).delivered == 5
    assert receipt_keys() == pks


def test_a_receiver_failing_on_inbox_rows_retries_that_event_alone(receiver):
    pks = capture_articles(3)
    receiver.FAIL.add(str(pks[1]))
    worker = make_worker(batch_size=10)
    assert worker.run_once() == 3
    # The batch rolled back, its rows went into the event table and were delivered one
    # by one: the others' database writes committed once, the failing one's not at all.
    assert receipt_keys() == [pks[0], pks[2]]
    assert inbox_rows() == 0
    (event,) = DeletedRow.objects.all()
    assert event.pk_text == str(pks[1]) and event.attempts == 1
    assert event.status == DeletedRow.Status.PENDING and "refuses" in event.last_error
    assert (worker.stats.delivered, worker.stats.failed) == (2, 1)


def test_an_inbox_row_that_keeps_failing_becomes_a_dead_letter(receiver):
    (pk,) = capture_articles(1)
    receiver.FAIL.add(str(pk))
    stats = make_worker(batch_size=10).run(drain=True)
    assert stats.dead == 1 and receipt_keys() == []
    event = DeletedRow.objects.get()
    assert event.status == DeletedRow.Status.DEAD and event.attempts == 3


def test_a_wake_up_for_inbox_rows_alone_runs_no_take_on_the_event_table(receiver):
    pks = capture_articles(2)
    statements = Statements()
    with connection.execute_wrapper(statements):
        assert make_worker(batch_size=10).run_once() == 2
    assert receipt_keys() == pks
    assert not [s for s in statements.sql if s.startswith(f"DELETE FROM {EVENTS}")]


def test_an_event_due_in_the_event_table_is_taken_after_the_inbox_rows(receiver):
    insert_events(1, start=10**6)
    statements = Statements()
    with connection.execute_wrapper(statements):
        assert make_worker(batch_size=10).run_once() == 1
    assert receipt_keys() == [10**6]
    assert [s for s in statements.sql if s.startswith(f"DELETE FROM {EVENTS}")]


def test_rows_of_a_model_whose_receiver_keys_on_event_ids_go_through_the_event_table():
    from django.db.models.signals import post_delete

    from blog.models import Article
    from rowsync.events.handoff import event_id
    from rowsync.events.receivers import NEEDS_EVENT_ID

    ids = []

    def keyed(sender, instance, **kwargs):
        ids.append(event_id(instance))

    setattr(keyed, NEEDS_EVENT_ID, True)
    capture_articles(2)
    post_delete.connect(keyed, sender=Article, weak=False)
    try:
        assert make_worker(batch_size=10).run_once() == 2
    finally:
        post_delete.disconnect(keyed, sender=Article)
    assert len(ids) == 2 and all(isinstance(i, int) and i > 0 for i in ids)


def test_rows_taken_straight_from_an_inbox_have_no_event_id():
    from django.db.models.signals import post_delete

    from blog.models import Article
    from rowsync.events.handoff import event_id

    ids = []

    def plain(sender, instance, **kwargs):
        ids.append(event_id(instance))

    capture_articles(2)
    post_delete.connect(plain, sender=Article, weak=False)
    try:
        assert make_worker(batch_size=10).run_once() == 2
    finally:
        post_delete.disconnect(plain, sender=Article)
    assert ids == [None, None]
