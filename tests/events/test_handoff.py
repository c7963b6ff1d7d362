"""Hand-off of events to Django's task framework (``django.tasks``, Django 6.0+)."""

from __future__ import annotations

import datetime
import decimal

import pytest
from django.db import transaction
from django.db.models.signals import post_delete
from django.test import override_settings

from rowsync.events.handoff import event_payload, handoff, instance_from_payload, tasks_available
from rowsync.events.signals import post_db_update
from rowsync.events.worker import Worker
from tests.evapp.models import Author, Book, Chapter, Review
from tests.events.conftest import pending

pytestmark = pytest.mark.django_db(transaction=True)

needs_tasks = pytest.mark.skipif(
    not tasks_available(), reason="django.tasks (Django's task framework) needs Django 6.0+"
)

WHEN = datetime.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.UTC)
TASKS = {
    "default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"},
    "dummy": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"},
}


def drain():
    return Worker("default", progress_interval=0, listen=False, report=lambda line: None).run(
        drain=True
    )


def make_tree():
    author = Author.objects.create(name="a")
    books = [
        Book.objects.create(
            author=author,
            title=f"b{i}",
            price=decimal.Decimal("12.30"),
            published=WHEN,
            data={"k": [1, 2]},
            blob=b"\x00\xff",
            attachment=f"evapp/f{i}.txt",
            secret="hunter2",
        )
        for i in range(2)
    ]
    chapters = [Chapter.objects.create(book=b, title="c") for b in books]
    return author, books, chapters


@pytest.fixture
def runs():
    from tests.events import handoff_tasks

    handoff_tasks.RUNS.clear()
    yield handoff_tasks.RUNS
    handoff_tasks.RUNS.clear()


@pytest.fixture
def connected():
    """Disconnect every hand-off receiver a test connects (by dispatch uid)."""
    uids = []
    yield uids
    for signal, uid, sender in uids:
        assert signal.disconnect(sender=sender, dispatch_uid=uid)


@needs_tasks
@override_settings(TASKS=TASKS)
def test_worker_mode_handoff_runs_one_task_per_row(runs, connected):
    from tests.events.handoff_tasks import record_event

    handoff(record_event, sender=Book, delivery="worker", dispatch_uid="t.books")
    connected.append((post_delete, "t.books", Book))
    author, books, _chapters = make_tree()
    author.delete()
    assert runs == []  # the worker enqueues them
    drain()
    assert sorted(p["pk"] for p, _i in runs) == sorted(b.pk for b in books)
    payload, instance = min(runs, key=lambda r: r[0]["pk"])
    assert payload["model"] == "evapp.book" and payload["signal"] == "post_delete"
    assert isinstance(instance, Book) and instance.pk == books[0].pk
    assert instance.title == "b0" and instance.price == decimal.Decimal("12.30")
    assert instance.published == WHEN and bytes(instance.blob) == b"\x00\xff"
    assert instance.data == {"k": [1, 2]} and instance.attachment.name == "evapp/f0.txt"
    # sensitive fields are not in the row image: deferred in the rebuilt instance too
    assert "secret" not in payload["row"] and "secret" in instance.get_deferred_fields()
    assert pending() == []


@needs_tasks
@override_settings(TASKS=TASKS)
def test_on_commit_handoff_enqueues_nothing_for_rolled_back_work(connected):
    from django.tasks import task_backends

    from tests.events.handoff_tasks import record_event

    dummy = record_event.using(backend="dummy")
    handoff(dummy, sender=Chapter, delivery="on_commit", dispatch_uid="t.chapters")
    connected.append((post_delete, "t.chapters", Chapter))
    backend = task_backends["dummy"]
    backend.clear()
    author, _books, chapters = make_tree()
    with pytest.raises(RuntimeError), transaction.atomic():
        author.delete()
        raise RuntimeError
    assert backend.results == []
    with transaction.atomic():
        Author.objects.get(name="a").delete()
        assert backend.results == []  # not before the commit
    assert sorted(r.args[0]["pk"] for r in backend.results) == sorted(c.pk for c in chapters)
    assert {r.task.backend for r in backend.results} == {"dummy"}
    rebuilt = instance_from_payload(backend.results[0].args[0])
    assert isinstance(rebuilt, Chapter) and rebuilt.title == "c"
    assert pending() == []


@needs_tasks
@override_settings(TASKS=TASKS)
def test_post_db_update_handoff_carries_the_changes(runs, connected):
    from tests.events.handoff_tasks import record_event

    handoff(record_event, sender=Review, signal=post_db_update, dispatch_uid="t.reviews")
    connected.append((post_db_update, "t.reviews", Review))
    author = Author.objects.create(name="a")
    review = Review.objects.create(author=author, text="r")
    author.delete()
    ((payload, instance),) = runs
    assert payload["signal"] == "post_db_update" and payload["pk"] == review.pk
    assert list(payload["changes"]) == ["author_id"] and payload["changes"]["author_id"] is None
    assert instance.author_id is None and instance.text == "r"


def test_payload_round_trip_without_a_task_framework(connected):
    """Any object with ``enqueue`` works (Celery: ``rowsync.events.celery``)."""

    class Queue:
        def __init__(self):
            self.items = []

        def enqueue(self, payload):
            self.items.append(payload)

    queue = Queue()
    handoff(queue, sender=Book, dispatch_uid="t.queue")
    connected.append((post_delete, "t.queue", Book))
    author, books, _chapters = make_tree()
    author.delete()
    assert sorted(p["pk"] for p in queue.items) == sorted(b.pk for b in books)
    rebuilt = instance_from_payload(queue.items[0])
    assert rebuilt.published == WHEN and rebuilt.price == decimal.Decimal("12.30")
    assert event_payload(Book, rebuilt, "default")["row"] == queue.items[0]["row"]
    assert pending() == []
