"""Capture triggers and in-transaction / on-commit delivery of post_delete."""

from __future__ import annotations

import datetime
import decimal

import pytest
from django.db import connection, transaction

from rowsync.models import DeletedRow
from tests.evapp.models import (
    Author,
    Book,
    Chapter,
    Entry,
    Ledger,
    Node,
    Note,
    Plain,
    Review,
    Shelf,
)
from tests.events.conftest import pending, queued

pytestmark = pytest.mark.django_db(transaction=True)


def make_tree():
    author = Author.objects.create(name="a")
    books = [
        Book.objects.create(
            author=author,
            title=f"b{i}",
            price=decimal.Decimal("12.30"),
            published=datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
            data={"k": [1, 2], "s": "x"},
            blob=b"\x00\x01\xff",
            secret="hunter2",
        )
        for i in range(2)
    ]
    chapters = [
        Chapter.objects.create(book=b, title=f"c{b.pk}-{j}") for b in books for j in range(2)
    ]
    review = Review.objects.create(author=author, text="r")
    return author, books, chapters, review


def raw(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_raw_sql_delete_is_captured_with_row_image():
    author, books, _chapters, _review = make_tree()
    Chapter.objects.all().delete()
    DeletedRow.objects.all().delete()
    raw(f"DELETE FROM {connection.ops.quote_name('evapp_book')} WHERE id = %s", [books[0].pk])
    (event,) = queued()
    assert (event.model_label, event.op, event.pk_text) == ("evapp.book", "D", str(books[0].pk))
    assert event.claimed_by == "" and event.claimed_until is None
    assert event.row["title"] == "b0"
    assert "secret" not in event.row  # sensitive field left out
    assert event.row["author_id"] == author.pk


def test_rebuilt_instance_has_typed_values():
    from rowsync.events.dispatch import deliver

    _author, books, _chapters, _review = make_tree()
    Chapter.objects.all().delete()
    DeletedRow.objects.all().delete()
    raw(f"DELETE FROM {connection.ops.quote_name('evapp_book')} WHERE id = %s", [books[0].pk])
    (outcome,) = deliver(queued(), "default")
    assert outcome.ok, outcome.error
    inst = outcome.instance
    assert isinstance(inst, Book)
    assert inst.pk == books[0].pk
    assert inst.price == decimal.Decimal("12.30")
    assert inst.published == books[0].published
    assert inst.data == {"k": [1, 2], "s": "x"}
    assert bytes(inst.blob) == b"\x00\x01\xff"
    assert inst.in_print is True
    assert "secret" in inst.get_deferred_fields()
    assert inst._state.db == "default" and not inst._state.adding


def test_orm_delete_of_captured_model_signals_once(deleted):
    shelf = Shelf.objects.create(name="s")
    notes = [Note.objects.create(shelf=shelf, text=str(i)) for i in range(3)]
    shelf.delete()  # Django's Python CASCADE deletes and signals the notes itself
    assert deleted.keys("Note") == sorted(("Note", n.pk) for n in notes)
    assert pending() == []


def test_queryset_delete_without_receivers_leaves_no_events():
    shelf = Shelf.objects.create(name="s")
    Note.objects.create(shelf=shelf, text="x")
    Note.objects.all().delete()
    assert pending() == []


def test_db_cascade_sends_post_delete_in_transaction(deleted):
    author, books, chapters, _review = make_tree()
    seen_inside = []

    def inside(sender, instance, **kwargs):
        seen_inside.append(connection.in_atomic_block)

    from django.db.models.signals import post_delete

    post_delete.connect(inside, sender=Chapter, weak=False)
    author_pk = author.pk
    try:
        author.delete()
    finally:
        post_delete.disconnect(inside, sender=Chapter)
    assert deleted.keys("Book") == sorted(("Book", b.pk) for b in books)
    assert deleted.keys("Chapter") == sorted(("Chapter", c.pk) for c in chapters)
    assert deleted.keys("Author") == [("Author", author_pk)]  # Django's own, once
    assert all(seen_inside) and len(seen_inside) == 4
    origins = {type(c["origin"]) for c in deleted.calls}
    assert origins == {Author}
    assert pending() == []


def test_db_cascade_from_queryset_passes_queryset_origin(deleted):
    make_tree()
    qs = Author.objects.all()
    qs.delete()
    chapter_origins = [c["origin"] for c in deleted.calls if c["model"] == "Chapter"]
    assert chapter_origins and all(o is qs for o in chapter_origins)


def test_db_set_null_sends_post_db_update(updated, deleted):
    author, _books, _chapters, review = make_tree()
    author.delete()
    assert [(c["model"], c["pk"]) for c in updated.calls] == [("Review", review.pk)]
    call = updated.calls[0]
    assert call["instance"].author_id is None
    assert call["changes"] == {"author_id": None}
    assert "Review" not in {c["model"] for c in deleted.calls}
    assert Review.objects.get().author_id is None
    assert pending() == []


def test_self_referencing_cascade(deleted):
    root = Node.objects.create(name="root")
    kids = [Node.objects.create(name=f"k{i}", parent=root) for i in range(2)]
    grand = Node.objects.create(name="g", parent=kids[0])
    expected = sorted(("Node", n.pk) for n in [root, *kids, grand])
    root.delete()
    assert deleted.keys("Node") == expected
    assert pending() == []


def test_rollback_discards_events_and_signals_already_sent(deleted):
    author, _books, _chapters, _review = make_tree()
    with pytest.raises(RuntimeError), transaction.atomic():
        author.delete()
        raise RuntimeError
    assert Book.objects.count() == 2
    assert pending() == []


@pytest.mark.django_db
def test_on_commit_model_waits_for_commit(deleted, django_capture_on_commit_callbacks):
    ledger = Ledger.objects.create(name="l")
    entries = [Entry.objects.create(ledger=ledger, amount=i) for i in range(3)]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        ledger.delete()
        assert deleted.keys("Entry") == []
        # leased to this process: a worker must not take them
        assert DeletedRow.objects.filter(claimed_until__isnull=False).count() == 3
    assert len(callbacks) == 1
    assert deleted.keys("Entry") == sorted(("Entry", e.pk) for e in entries)
    assert pending() == []


@pytest.mark.django_db
def test_on_commit_nothing_for_rolled_back_savepoint(deleted, django_capture_on_commit_callbacks):
    ledger = Ledger.objects.create(name="l")
    Entry.objects.create(ledger=ledger)
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        ledger.delete()
        raise RuntimeError
    assert callbacks == []
    assert deleted.keys("Entry") == []
    assert Entry.objects.count() == 1
    assert pending() == []


def test_plain_model_has_no_trigger():
    Plain.objects.create(name="p")
    raw(f"DELETE FROM {connection.ops.quote_name('evapp_plain')}")
    assert pending() == []


def test_on_commit_real_commit_and_rollback(deleted):
    ledger = Ledger.objects.create(name="l")
    entries = [Entry.objects.create(ledger=ledger, amount=i) for i in range(2)]
    with pytest.raises(RuntimeError), transaction.atomic():
        ledger.delete()
        raise RuntimeError
    assert deleted.keys("Entry") == [] and pending() == []
    with transaction.atomic():
        Ledger.objects.get().delete()
        assert deleted.keys("Entry") == []
    assert deleted.keys("Entry") == sorted(("Entry", e.pk) for e in entries)
    assert pending() == []
