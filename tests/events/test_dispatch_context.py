"""Row images, schema drift, actor context, delivery modes and checks."""

from __future__ import annotations

import pytest
from django.core import checks
from django.test import override_settings

from rowsync.events.checks import check_capture
from rowsync.events.context import actor_context, event_context
from rowsync.events.dispatch import EventDecodeError, EventRecord, deliver, rebuild
from rowsync.models import DeletedRow
from tests.evapp.models import Author, Book, Chapter, Ledger, Note, Shelf
from tests.events.conftest import pending

pytestmark = pytest.mark.django_db(transaction=True)


def record(**kw):
    base = {
        "id": 1,
        "model_label": "evapp.chapter",
        "table_name": "evapp_chapter",
        "op": "D",
        "row": {"id": 7, "book_id": 3, "title": "t"},
        "changes": None,
        "context": None,
    }
    base.update(kw)
    return EventRecord(**base)


def test_drift_added_and_removed_columns_are_tolerated(deleted):
    event = record(row={"id": 7, "book_id": 3, "gone_column": 1})  # no "title" any more
    (outcome,) = deliver([event], "default")
    assert outcome.ok
    assert outcome.instance.pk == 7 and outcome.instance.book_id == 3
    assert outcome.instance.get_deferred_fields() == {"title"}
    assert deleted.keys() == [("Chapter", 7)]


def test_undecodable_events_are_permanent_failures(deleted):
    outcomes = deliver(
        [
            record(id=1, model_label="nope.gone"),
            record(id=2, row={"book_id": 3}),  # no primary key
            record(id=3, row={"id": "not-a-number"}),
            record(id=4, row="[1, 2]"),
        ],
        "default",
    )
    assert [o.permanent for o in outcomes] == [True, True, True, True]
    assert "nope.gone" in str(outcomes[0].error)
    assert "primary key" in str(outcomes[1].error)
    assert "'id'" in str(outcomes[2].error)
    assert deleted.calls == []
    with pytest.raises(EventDecodeError):
        rebuild(Chapter, {"title": "x"}, "default")


def test_receiver_errors_are_reported_not_raised(deleted):
    from django.db.models.signals import post_delete

    def boom(sender, **kwargs):
        raise ValueError("receiver failed")

    post_delete.connect(boom, sender=Chapter, weak=False)
    try:
        (outcome,) = deliver([record()], "default")
    finally:
        post_delete.disconnect(boom, sender=Chapter)
    assert isinstance(outcome.error, ValueError) and not outcome.permanent
    assert deleted.keys() == [("Chapter", 7)]  # the other receivers still ran


def test_actor_context_travels_with_the_event():
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append((instance._rowsync_context, event_context()))

    from django.db.models.signals import post_delete

    author = Author.objects.create(name="a")
    Book.objects.create(author=author, title="b")
    post_delete.connect(receiver, sender=Book, weak=False)
    try:
        with actor_context(user_id=42, reason="cleanup"):
            author.delete()  # the database cascades to the book
    finally:
        post_delete.disconnect(receiver, sender=Book)
    assert seen == [({"user_id": 42, "reason": "cleanup"},) * 2]


@override_settings(ROWSYNC_DELIVERY="worker")
def test_worker_mode_leaves_events_for_the_worker(deleted):
    shelf = Shelf.objects.create(name="s")
    Note.objects.create(shelf=shelf, text="x")
    ledger = Ledger.objects.create(name="l")  # Entry is on_commit by RowsyncMeta
    author = Author.objects.create(name="a")
    Book.objects.create(author=author, title="b")
    author.delete()
    assert deleted.keys("Book") == []
    rows = DeletedRow.objects.filter(model_label="evapp.book")
    assert [(r.claimed_by, r.claimed_until) for r in rows] == [("", None)]
    ledger.delete()
    shelf.delete()  # Django signals the note itself: no event left for it
    assert [p for p in pending() if p[0] == "evapp.note"] == []


def test_checks_report_bad_configuration():
    with override_settings(ROWSYNC_DELIVERY="later"):
        ids = [e.id for e in check_capture()]
    assert "rowsync.E060" in ids
    assert check_capture() == []

    class Bad:
        capture = True
        capture_exclude = ["nope", "id"]
        delivery = "sometime"

    Chapter.RowsyncMeta, saved = Bad, Chapter.RowsyncMeta
    try:
        errors = check_capture()
    finally:
        Chapter.RowsyncMeta = saved
    assert sorted(e.id for e in errors) == ["rowsync.E061", "rowsync.E062", "rowsync.E063"]
    assert all(isinstance(e, checks.Error) for e in errors)


def test_later_receivers_of_a_half_delivered_event_all_run_despite_an_error():
    """An event an earlier phase delivered through goes to the later receivers only; a
    failing one does not keep the others from running (the robust form reports it)."""
    from django.db.models.signals import post_delete

    from rowsync.events import receiver_delivery

    calls = []

    @receiver_delivery("worker")
    def boom(sender, instance, **kwargs):
        calls.append("boom")
        raise ValueError("later receiver failed")

    @receiver_delivery("worker")
    def later(sender, instance, **kwargs):
        calls.append("later")

    def early(sender, instance, **kwargs):  # the model's mode: ran in the transaction
        calls.append("early")

    for receiver in (boom, later, early):
        post_delete.connect(receiver, sender=Chapter, weak=False)
    try:
        (outcome,) = deliver([record(delivered_through="transaction")], "default")
    finally:
        for receiver in (boom, later, early):
            post_delete.disconnect(receiver, sender=Chapter)
    assert calls == ["boom", "later"]
    assert isinstance(outcome.error, ValueError) and not outcome.permanent
