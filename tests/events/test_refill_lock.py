"""One worker moves inbox rows at a time where the engine has a refill lock (PostgreSQL).

A PostgreSQL worker takes most inbox rows in its delivering transaction; it moves rows
into the event table for models whose receivers key on the event id (the Celery
hand-off's), which is what these tests use.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction
from django.db.models.signals import post_delete

from blog.models import Article
from rowsync.backends import get_backend
from rowsync.events import inbox
from rowsync.events.receivers import NEEDS_EVENT_ID
from tests.events.test_inbox import make_articles, raw_delete
from tests.events.worker_support import make_worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.requires("capture_inbox")]


def inbox_rows() -> int:
    return inbox.counts("default").get("blog.article", 0)


def test_a_worker_does_not_try_to_move_rows_while_another_worker_moves():
    lock = get_backend(connection).worker_refill_lock_sql()
    if lock is None:
        pytest.skip(f"{connection.vendor} serializes the moves itself")
    articles = make_articles(3)
    raw_delete([a.pk for a in articles])
    holding, release = threading.Event(), threading.Event()

    def other_mover():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(lock)
                assert cursor.fetchone()[0]
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    statements: list[str] = []

    def note(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    seen: list[int] = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance.pk)

    setattr(receiver, NEEDS_EVENT_ID, True)  # rows go through the event table

    post_delete.connect(receiver, sender=Article, weak=False)
    thread = threading.Thread(target=other_mover)
    try:
        thread.start()
        assert holding.wait(10)
        worker = make_worker(batch_size=10)
        with connection.execute_wrapper(note):
            assert worker.run_once() == 0
        assert worker._inboxes == "busy"  # looks again soon
        # no move was tried: it would lock (and skip) every row the other one holds
        assert not [s for s in statements if "rowsync_cb_" in s and "DELETE" in s]
        assert inbox_rows() == 3
        release.set()
        thread.join(10)
        assert worker.run_once() == 3
    finally:
        release.set()
        thread.join(10)
        post_delete.disconnect(receiver, sender=Article)
    assert sorted(seen) == sorted(a.pk for a in articles)
    assert inbox_rows() == 0
