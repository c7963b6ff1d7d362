"""Batch receivers (``post_delete_batch``): one call per model and delivery batch."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.models.signals import post_delete

from blog.models import Article
from rowsync.events import batch, receiver_delivery, receivers
from rowsync.events.dispatch import deliver
from rowsync.events.need import model_needs
from rowsync.events.retry import RetryPolicy
from rowsync.events.signals import post_delete_batch
from rowsync.models import DeletedRow
from tests.evapp.models import Author, Book, Chapter, Shelf
from tests.events.conftest import pending
from tests.events.worker_support import insert_events, make_worker

pytestmark = pytest.mark.django_db(transaction=True)


class BatchRecorder:
    """A ``post_delete_batch`` receiver: records each call, writes one Shelf row per instance.

    Raises after writing when an instance's pk is in ``fail``.
    """

    def __init__(self, fail=()):
        self.calls = []
        self.fail = {str(pk) for pk in fail}

    def __call__(self, sender, instances, using, origin=None, **kwargs):
        self.calls.append(
            {
                "model": sender.__name__,
                "pks": [i.pk for i in instances],
                "using": using,
                "origin": origin,
                "atomic": connection.in_atomic_block,
                "savepoints": len(connection.savepoint_ids),
            }
        )
        Shelf.objects.bulk_create([Shelf(name=f"{sender.__name__}:{i.pk}") for i in instances])
        refused = [i.pk for i in instances if str(i.pk) in self.fail]
        if refused:
            raise RuntimeError(f"batch receiver refuses {refused}")

    def sizes(self, model=None):
        return [len(c["pks"]) for c in self.calls if model is None or c["model"] == model]

    def pks(self, model=None):
        return sorted(pk for c in self.calls if model in (None, c["model"]) for pk in c["pks"])


@pytest.fixture(autouse=True)
def _restore_declarations():
    saved = list(receivers._declared)
    yield
    receivers._declared[:] = saved


@pytest.fixture
def connect():
    """Connect batch receivers for a test; disconnect them after."""
    connected = []

    def connect(rec, sender, mode=None):
        if mode is not None:
            receiver_delivery(mode)(rec)
        post_delete_batch.connect(rec, sender=sender, weak=False)
        connected.append((rec, sender))
        return rec

    yield connect
    for rec, sender in connected:
        post_delete_batch.disconnect(rec, sender=sender)


def shelf_names(prefix):
    return sorted(
        int(name.split(":")[1])
        for name in Shelf.objects.filter(name__startswith=prefix).values_list("name", flat=True)
    )


def make_tree(books=2, chapters=3):
    author = Author.objects.create(name="a")
    made = [Book.objects.create(author=author, title=f"b{i}") for i in range(books)]
    pks = [Chapter.objects.create(book=b, title="c").pk for b in made for _ in range(chapters)]
    return author, sorted(pks)


def test_the_worker_calls_it_once_per_batch_inside_the_batch_transaction(connect):
    rec = connect(BatchRecorder(), Article)
    single = []

    def single_receiver(sender, instance, **kwargs):
        single.append(instance.pk)

    post_delete.connect(single_receiver, sender=Article, weak=False)
    try:
        insert_events(25)
        stats = make_worker(batch_size=10).run(drain=True)
    finally:
        post_delete.disconnect(single_receiver, sender=Article)
    assert stats.delivered == 25
    assert rec.sizes() == [10, 10, 5]
    assert rec.pks() == list(range(1, 26))
    assert [c["pks"] for c in rec.calls][0] == list(range(1, 11))  # event order
    assert {(c["using"], c["origin"], c["atomic"]) for c in rec.calls} == {("default", None, True)}
    assert sorted(single) == list(range(1, 26))  # post_delete receivers: once per event
    assert shelf_names("Article") == list(range(1, 26))
    assert DeletedRow.objects.count() == 0


def test_a_failed_batch_is_retried_one_event_at_a_time_in_savepoints(connect):
    rec = connect(BatchRecorder(fail=[7]), Article)
    insert_events(10)
    policy = RetryPolicy(max_attempts=3, base_delay=60, jitter=0)
    stats = make_worker(batch_size=10, policy=policy).run(drain=True)
    assert (stats.delivered, stats.failed) == (9, 1)
    # the whole batch once (rolled back), then one instance per call, each in a savepoint
    assert rec.sizes() == [10] + [1] * 10
    assert all(c["savepoints"] >= 1 for c in rec.calls[1:])
    # the failed batch's rows and the failing event's row were rolled back
    assert shelf_names("Article") == [k for k in range(1, 11) if k != 7]
    event = DeletedRow.objects.get()
    assert (event.pk_text, event.attempts, event.status) == ("7", 1, DeletedRow.Status.PENDING)
    assert "batch receiver refuses [7]" in event.last_error


def test_a_failing_event_becomes_a_dead_letter_and_replay_sends_a_batch_of_one(connect):
    from rowsync.events.worker import replay

    rec = connect(BatchRecorder(fail=[3]), Article)
    insert_events(4)
    make_worker(policy=RetryPolicy(max_attempts=1, base_delay=0)).run(drain=True)
    assert DeletedRow.objects.get().status == DeletedRow.Status.DEAD
    rec.fail.clear()
    rec.calls.clear()
    result = replay("default")
    assert result.delivered and rec.sizes() == [1]
    assert shelf_names("Article") == [1, 2, 3, 4]


def test_in_the_transaction_it_gets_the_cascade_of_one_delete_at_once(connect):
    rec = connect(BatchRecorder(), Chapter)
    author, chapters = make_tree()
    with transaction.atomic():
        author.delete()
        assert rec.sizes() == [len(chapters)]
        assert rec.pks() == chapters
        assert rec.calls[0]["atomic"] and rec.calls[0]["origin"] is not None
    assert shelf_names("Chapter") == chapters
    assert pending() == []


def test_a_rolled_back_delete_takes_the_receivers_writes_with_it(connect):
    rec = connect(BatchRecorder(), Chapter)
    author, chapters = make_tree()
    with pytest.raises(RuntimeError), transaction.atomic():
        author.delete()
        raise RuntimeError
    assert rec.pks() == chapters  # as with post_delete: it ran inside the transaction
    assert Shelf.objects.count() == 0
    assert pending() == []
    assert make_worker().run(drain=True).delivered == 0


def test_an_error_in_the_transaction_fails_the_delete(connect):
    author, chapters = make_tree()
    connect(BatchRecorder(fail=[chapters[0]]), Chapter)
    with pytest.raises(RuntimeError, match="batch receiver refuses"):
        author.delete()
    assert Chapter.objects.count() == len(chapters)
    assert Shelf.objects.count() == 0


@pytest.mark.parametrize("mode", ["on_commit", "worker"])
def test_its_own_delivery_mode_is_kept(connect, mode):
    rec = connect(BatchRecorder(), Chapter, mode=mode)
    author, chapters = make_tree()
    with transaction.atomic():
        author.delete()
        assert rec.calls == []
    if mode == "on_commit":
        assert rec.sizes() == [len(chapters)]
        assert pending() == []
    else:
        assert rec.calls == []
        assert make_worker().run(drain=True).delivered >= len(chapters)
        assert rec.sizes("Chapter") == [len(chapters)]
    assert rec.pks("Chapter") == chapters
    assert shelf_names("Chapter") == chapters


def test_raw_sql_deletes_reach_it_through_the_worker(connect):
    rec = connect(BatchRecorder(), Chapter)
    author, chapters = make_tree()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {connection.ops.quote_name(Chapter._meta.db_table)}")
    assert rec.calls == []
    assert make_worker(batch_size=4).run(drain=True).delivered == len(chapters)
    assert rec.sizes() == [4, 2]
    assert shelf_names("Chapter") == chapters


def test_outside_a_delivery_batch_it_gets_one_instance_per_event(connect):
    rec = connect(BatchRecorder(fail=[2]), Article)
    insert_events(3)
    outcomes = deliver(DeletedRow.objects.order_by("pk"), "default")
    assert rec.sizes() == [1, 1, 1]
    assert [o.ok for o in outcomes] == [True, False, True]


def test_a_model_with_only_a_batch_receiver_needs_a_capture_session(connect):
    assert not model_needs(Chapter)
    connect(BatchRecorder(), Chapter)
    assert model_needs(Chapter)


def test_without_batch_receivers_nothing_changes(connect):
    assert not batch.has_receivers()
    assert batch.collectors(Chapter) == []
    with batch.collecting():
        batch.collect(Chapter, Chapter(pk=1), "default", None)  # nobody to collect for
    before = receivers.live_receivers(post_delete, Article)
    rec = connect(BatchRecorder(), Article)
    assert batch.collectors(Chapter) == []  # another sender's receiver
    assert receivers.live_receivers(post_delete, Chapter) == []
    after = receivers.live_receivers(post_delete, Article)
    assert after[: len(before)] == before
    assert [r for r, _call in after[len(before) :]] == [rec]


def test_an_async_batch_receiver_is_called_once_per_batch(connect):
    calls = []

    async def on_batch(sender, instances, using, **kwargs):
        calls.append([i.pk for i in instances])

    connect(on_batch, Article)
    insert_events(5)
    make_worker(batch_size=5).run(drain=True)
    assert calls == [[1, 2, 3, 4, 5]]
