"""Per-receiver delivery modes: each receiver in its own phase, once per event."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.models.signals import post_delete
from django.test import override_settings
from django.utils import timezone

from rowsync.events import receiver_delivery, receivers
from rowsync.events.checks import check_capture
from rowsync.events.signals import post_db_update
from rowsync.events.worker import Worker
from rowsync.models import DeletedRow
from tests.evapp.models import Author, Book, Chapter, Entry, Ledger, Review
from tests.events.conftest import Recorder, pending

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _restore_declarations():
    """Declarations are process-wide: drop this test's (they widen every delete's path)."""
    saved = list(receivers._declared)
    yield
    receivers._declared[:] = saved


class Modal:
    """One recorder per mode on post_delete (and post_db_update); None: the model's mode."""

    def __init__(self, signal=post_delete, modes=(None, "transaction", "on_commit", "worker")):
        self.signal = signal
        self.by_mode = {}
        for mode in modes:
            rec = Recorder(signal)
            if mode is not None:
                receiver_delivery(mode)(rec)
            signal.connect(rec, weak=False, dispatch_uid=f"tests.modes.{mode}")
            self.by_mode[mode] = rec

    def close(self):
        for mode in self.by_mode:
            self.signal.disconnect(dispatch_uid=f"tests.modes.{mode}")

    def keys(self, mode, *models):
        recorded = self.by_mode[mode].keys()
        return [k for k in recorded if not models or k[0] in models]


@pytest.fixture
def modal():
    m = Modal()
    yield m
    m.close()


def drain():
    return Worker("default", progress_interval=0, listen=False, report=lambda line: None).run(
        drain=True
    )


def make_tree():
    author = Author.objects.create(name="a")
    books = [Book.objects.create(author=author, title=f"b{i}") for i in range(2)]
    chapters = [Chapter.objects.create(book=b, title="c") for b in books for _ in range(2)]
    expected = sorted([("Book", b.pk) for b in books] + [("Chapter", c.pk) for c in chapters])
    return author, expected


def test_each_receiver_runs_in_its_own_phase_exactly_once(modal):
    author, expected = make_tree()
    author_pk = author.pk
    with transaction.atomic():
        author.delete()
        # during the delete: the model's mode (transaction) and the transaction receiver
        assert modal.keys(None, "Book", "Chapter") == expected
        assert modal.keys("transaction", "Book", "Chapter") == expected
        assert modal.keys("on_commit", "Book", "Chapter") == []
        assert modal.keys("worker", "Book", "Chapter") == []
    # after the commit: the on-commit receiver; the events wait for the worker
    assert modal.keys("on_commit", "Book", "Chapter") == expected
    assert modal.keys("worker", "Book", "Chapter") == []
    rows = DeletedRow.objects.values_list("delivered_through", "claimed_by", "claimed_until")
    assert set(rows) == {("on_commit", "", None)}
    assert drain().delivered == len(expected)
    for mode in (None, "transaction", "on_commit", "worker"):
        assert modal.keys(mode, "Book", "Chapter") == expected, mode
    assert pending() == []
    # Django's collector deleted the author itself and signalled it at once, to everyone
    for mode in (None, "transaction", "on_commit", "worker"):
        assert modal.keys(mode, "Author") == [("Author", author_pk)]


def test_rollback_reaches_no_later_phase(modal):
    author, expected = make_tree()
    with pytest.raises(RuntimeError), transaction.atomic():
        author.delete()
        raise RuntimeError
    # as with Django: in-transaction receivers ran before the rollback
    assert modal.keys("transaction", "Book", "Chapter") == expected
    assert modal.keys("on_commit", "Book", "Chapter") == []
    assert modal.keys("worker", "Book", "Chapter") == []
    assert pending() == []
    assert drain().delivered == 0
    assert modal.keys("on_commit", "Book", "Chapter") == []
    assert modal.keys("worker", "Book", "Chapter") == []
    assert Book.objects.count() == 2


def test_rolled_back_savepoint_reaches_no_later_phase(modal):
    author, expected = make_tree()
    author_pk = author.pk
    keep = Author.objects.create(name="keep")
    book = Book.objects.create(author=keep, title="k")
    with transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            author.delete()
            raise RuntimeError
        keep.delete()
    assert modal.keys("on_commit", "Book") == [("Book", book.pk)]
    drain()
    assert modal.keys("worker", "Book", "Chapter") == [("Book", book.pk)]
    assert modal.keys("transaction", "Book") == [("Book", b) for _m, b in expected[:2]] + [
        ("Book", book.pk)
    ]
    assert Book.objects.filter(author_id=author_pk).count() == 2
    assert pending() == []


def test_failed_on_commit_phase_falls_back_to_the_worker_without_repeats(caplog):
    author, expected = make_tree()
    failing = {"on": True}
    calls = []

    @receiver_delivery("on_commit")
    def flaky(sender, instance, **kwargs):
        if sender in (Book, Chapter):
            calls.append((sender.__name__, instance.pk))
            if failing["on"]:
                raise RuntimeError("down")

    # Connected first: it fails before the other on-commit receiver runs (an outside
    # effect of a receiver that ran before a failure would run again: at least once).
    post_delete.connect(flaky, weak=False, dispatch_uid="tests.modes.flaky")
    modal = Modal()
    try:
        with transaction.atomic():
            author.delete()
        # the on-commit phase failed: the events stay leased to this process
        (record,) = [r for r in caplog.records if "on-commit delivery failed" in r.message]
        assert (record.database, record.phase) == ("default", "on_commit") and record.claim
        assert DeletedRow.objects.filter(claimed_until__isnull=False).count() == len(expected)
        assert set(DeletedRow.objects.values_list("delivered_through", flat=True)) == {
            "transaction"
        }
        assert drain().delivered == 0  # leased
        failing["on"] = False
        DeletedRow.objects.update(claimed_until=timezone.now() - timezone.timedelta(seconds=1))
        assert drain().delivered == len(expected)
    finally:
        post_delete.disconnect(dispatch_uid="tests.modes.flaky")
        modal.close()
    # the transaction-phase receivers are not called again; the others once each
    assert modal.keys(None, "Book", "Chapter") == expected
    assert modal.keys("transaction", "Book", "Chapter") == expected
    assert modal.keys("on_commit", "Book", "Chapter") == expected
    assert modal.keys("worker", "Book", "Chapter") == expected
    # the failed on-commit attempt reached the first event only, then the worker all
    assert calls[0] == expected[0] and sorted(calls[1:]) == expected
    assert pending() == []


def test_raw_sql_delete_reaches_every_receiver_through_the_worker(modal):
    author, expected = make_tree()
    table = connection.ops.quote_name("evapp_chapter")
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")
    assert modal.keys("transaction") == []
    drain()
    chapters = [k for k in expected if k[0] == "Chapter"]
    for mode in (None, "transaction", "on_commit", "worker"):
        assert modal.keys(mode) == chapters, mode
    assert pending() == []


@override_settings(ROWSYNC_DELIVERY="worker")
def test_transaction_receiver_of_a_worker_model(modal):
    author, expected = make_tree()
    author.delete()
    assert modal.keys("transaction", "Book", "Chapter") == expected
    assert modal.keys(None, "Book", "Chapter") == []
    assert modal.keys("on_commit", "Book", "Chapter") == expected  # after the commit
    assert modal.keys("worker", "Book", "Chapter") == []
    drain()
    for mode in (None, "transaction", "on_commit", "worker"):
        assert modal.keys(mode, "Book", "Chapter") == expected, mode
    assert pending() == []


def test_transaction_receiver_of_an_on_commit_model(modal):
    ledger = Ledger.objects.create(name="l")
    entries = sorted(("Entry", Entry.objects.create(ledger=ledger).pk) for _ in range(3))
    with transaction.atomic():
        ledger.delete()
        assert modal.keys("transaction", "Entry") == entries
        assert modal.keys(None, "Entry") == []
    assert modal.keys(None, "Entry") == entries
    assert modal.keys("on_commit", "Entry") == entries
    assert modal.keys("worker", "Entry") == []
    drain()
    for mode in (None, "transaction", "on_commit", "worker"):
        assert modal.keys(mode, "Entry") == entries, mode
    assert pending() == []


def test_only_one_mode_needs_no_worker():
    """Receivers all in the transaction phase: nothing is left for a worker."""
    rec = receiver_delivery("transaction")(Recorder(post_delete))
    post_delete.connect(rec, weak=False, dispatch_uid="tests.modes.only")
    try:
        author, expected = make_tree()
        author.delete()
    finally:
        post_delete.disconnect(dispatch_uid="tests.modes.only")
    recorded = rec.keys()
    assert [k for k in recorded if k[0] != "Author"] == expected
    assert pending() == []


def test_post_db_update_receivers_have_modes_too():
    modal = Modal(post_db_update, modes=(None, "on_commit", "worker"))
    try:
        author = Author.objects.create(name="a")
        review = Review.objects.create(author=author, text="r")
        with transaction.atomic():
            author.delete()
            assert modal.keys(None) == [("Review", review.pk)]
            assert modal.keys("on_commit") == []
        assert modal.keys("on_commit") == [("Review", review.pk)]
        assert modal.keys("worker") == []
        drain()
        assert modal.keys("worker") == [("Review", review.pk)]
        assert modal.keys(None) == [("Review", review.pk)]
        assert modal.by_mode["worker"].calls[0]["changes"]
    finally:
        modal.close()
    assert pending() == []


def test_bound_method_receiver_gets_its_mode():
    class Sink:
        def __init__(self):
            self.seen = []

        @receiver_delivery("on_commit")
        def on_delete(self, sender, instance, **kwargs):
            self.seen.append((sender.__name__, instance.pk))

    sink = Sink()
    post_delete.connect(sink.on_delete, sender=Book)
    try:
        author, expected = make_tree()
        with transaction.atomic():
            author.delete()
            assert sink.seen == []
    finally:
        post_delete.disconnect(sink.on_delete, sender=Book)
    assert sorted(sink.seen) == [k for k in expected if k[0] == "Book"]
    assert pending() == []


def test_unknown_mode_is_a_system_check_error():
    @receiver_delivery("later")
    def bad(sender, **kwargs):
        pass

    errors = [e for e in check_capture() if e.id == "rowsync.E065"]
    assert len(errors) == 1
    assert "'later'" in errors[0].msg and "bad" in errors[0].msg
    assert "'on_commit'" in errors[0].hint
    # the receiver runs in its model's mode meanwhile
    assert receivers.mode_of(bad, "on_commit") == "on_commit"
