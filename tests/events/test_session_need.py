"""Which ORM deletes open a capture session: only those whose rows someone may need.

A delete whose captured rows have no ``post_delete`` / ``post_db_update`` receiver in this
process, none in ``"worker"`` mode and none held by an identity map that the database
removes (``test_session_need_identity.py``) runs Django's queries only; the rows its
triggers record are removed after the commit (nothing piles up without a worker). Every
other delete keeps its session: each row is delivered once, in its mode."""

from __future__ import annotations

from collections import Counter

import pytest
from django.db import connection, transaction
from django.db.models.signals import post_delete, pre_delete
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from rowsync.events import inbox, need
from rowsync.events.signals import post_db_update
from rowsync.events.worker import Worker
from rowsync.models import DeletedRow
from tests.evapp.models import Author, Book, Chapter, Ledger, Node, Review
from tests.events.conftest import Recorder

pytestmark = pytest.mark.django_db(transaction=True)


def rowsync_queries(ctx: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries if "rowsync" in q["sql"].lower()]


def rowsync_queries_of(delete) -> tuple[list[str], list[str]]:
    """Run ``delete`` in a transaction: rowsync's queries in it, and after the commit."""
    with (
        CaptureQueriesContext(connection) as outer,
        transaction.atomic(),
        CaptureQueriesContext(connection) as inner,
    ):
        delete()
    after = outer.captured_queries[len(inner.captured_queries) :]
    return rowsync_queries(inner), [q["sql"] for q in after if "rowsync" in q["sql"].lower()]


def left_over() -> int:
    """Rows waiting for a worker: inbox rows and event-table rows."""
    return inbox.pending_count("default") + DeletedRow.objects.count()


def make_tree(books: int = 2, chapters: int = 2, reviews: int = 1):
    author = Author.objects.create(name="a")
    made = [Book.objects.create(author=author, title=f"b{i}") for i in range(books)]
    parts = [Chapter.objects.create(book=b, title="c") for b in made for _ in range(chapters)]
    for _ in range(reviews):
        Review.objects.create(author=author, text="r")
    return author, made, parts


class Connected:
    """Receivers connected for the length of a test, each with a recorder."""

    def __init__(self) -> None:
        self.uids: list[tuple[object, str]] = []

    def add(self, signal, sender, handler=None):
        rec = handler or Recorder(signal, sender)
        uid = f"tests.need.{len(self.uids)}"
        signal.connect(rec, sender=sender, weak=False, dispatch_uid=uid)
        self.uids.append((signal, sender, uid))
        return rec

    def close(self) -> None:
        for signal, sender, uid in self.uids:
            signal.disconnect(sender=sender, dispatch_uid=uid)


@pytest.fixture
def connect():
    c = Connected()
    yield c
    c.close()


def drain() -> None:
    Worker("default", progress_interval=0, listen=False, report=lambda line: None).run(drain=True)


def tally(expected: list[tuple[str, int]], delivered: list[tuple[str, int]]) -> dict[str, int]:
    want, got = Counter(expected), Counter(delivered)
    return {
        "expected": sum(want.values()),
        "delivered": sum(min(got[k], want[k]) for k in want),
        "duplicated": sum(max(got[k] - 1, 0) for k in got),
        "lost": sum(max(want[k] - got[k], 0) for k in want),
        "stray": sum(got[k] for k in got if k not in want),
    }


def perfect(expected):
    return {"expected": len(expected), "delivered": len(expected), "duplicated": 0, "lost": 0}


# --- skipped: nobody needs the rows -----------------------------------------------------------


def test_a_delete_nobody_listens_to_runs_djangos_queries_only():
    author, _books, chapters = make_tree()

    def delete():
        Chapter.objects.filter(pk=chapters[0].pk).delete()
        author.delete()

    inside, after = rowsync_queries_of(delete)
    assert inside == []
    # After the commit: one DELETE per inbox (author, book, chapter, review) and one on the
    # event table (reviews nulled by DB_SET_NULL land there; on MariaDB every row does).
    assert 1 <= len(after) <= 5
    assert all(sql.startswith("DELETE") for sql in after)
    assert left_over() == 0


def test_a_rolled_back_delete_widens_no_later_clean_up():
    # The models of a rolled-back delete must not be cleaned after a later commit: their
    # rows went with the rollback, and the clean-up of the later delete is its own.
    author, _books, _chapters = make_tree()
    with transaction.atomic():
        author.delete()
        transaction.set_rollback(True)
    node = Node.objects.create(name="n")
    _inside, after = rowsync_queries_of(node.delete)
    assert after and all("evapp_node" in sql for sql in after if "rowsync_cb_" in sql)
    assert left_over() == 0


def test_fast_delete_is_one_query():
    _author, _books, chapters = make_tree()
    with transaction.atomic():
        with CaptureQueriesContext(connection) as ctx:
            Chapter.objects.filter(pk=chapters[0].pk).delete()
        assert len(ctx.captured_queries) == 1


def test_rows_nobody_needs_do_not_pile_up_without_a_worker():
    for _ in range(3):
        author, _books, _chapters = make_tree()
        author.delete()  # autocommit: the cleanup runs at once
    with transaction.atomic():
        for _ in range(3):
            make_tree()[0].delete()
        Node.objects.create(parent=Node.objects.create())
        Node.objects.filter(parent=None).delete()
    assert left_over() == 0


def test_rolled_back_deletes_leave_nothing_and_later_ones_are_cleaned():
    author, _books, _chapters = make_tree()
    pk = author.pk
    with transaction.atomic():
        try:
            with transaction.atomic():
                author.delete()
                raise RuntimeError
        except RuntimeError:
            pass
        make_tree()[0].delete()
    assert left_over() == 0
    assert Author.objects.filter(pk=pk).exists()


def test_raw_sql_rows_still_wait_for_the_worker():
    """The path of rows recorded without a session, as before: unclaimed, for the worker."""
    author, books, chapters = make_tree(reviews=0)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {connection.ops.quote_name(Author._meta.db_table)}")
    assert left_over() == len(books) + len(chapters) + 1


def test_a_receiver_of_another_model_does_not_open_a_session(connect):
    other = connect.add(post_delete, Ledger)
    author, _books, _chapters = make_tree()
    assert rowsync_queries_of(author.delete)[0] == []
    assert other.calls == []
    assert left_over() == 0


def test_pre_delete_receiver_only_rows_django_signals_are_not_repeated(connect):
    """Django collects and signals the author itself; nothing needs its event."""
    pre = connect.add(pre_delete, Author)
    author, _books, _chapters = make_tree()
    assert rowsync_queries_of(author.delete)[0] == []
    assert len(pre.calls) == 1
    assert left_over() == 0


def test_the_rule_follows_connect_and_disconnect(connect):
    models = frozenset({Author})
    assert need.needs_session(models) is False
    connect.add(post_delete, Chapter)
    assert need.needs_session(models) is True
    connect.close()
    connect.uids.clear()
    assert need.needs_session(models) is False
    connect.add(post_db_update, Review)
    assert need.needs_session(models) is True
    assert need.needs_session(frozenset({Ledger})) is False


# --- kept: someone needs the rows; each delivered once, in its mode ---------------------------


@pytest.mark.parametrize("mode", ["transaction", "on_commit", "worker"])
def test_a_receiver_below_keeps_the_session_once_per_row(connect, mode):
    with override_settings(ROWSYNC_DELIVERY=mode):
        rec = connect.add(post_delete, Chapter)
        author, _books, chapters = make_tree()
        with transaction.atomic():
            author.delete()
            inside = list(rec.keys())
        if mode == "worker":
            assert rec.keys() == []
            drain()
        expected = [("Chapter", c.pk) for c in chapters]
        assert tally(expected, rec.keys()) == {**perfect(expected), "stray": 0}
        assert inside == (sorted(expected) if mode == "transaction" else [])
        assert left_over() == 0


@pytest.mark.parametrize("mode", ["transaction", "on_commit"])
def test_no_receiver_in_an_in_process_mode_is_skipped(mode):
    with override_settings(ROWSYNC_DELIVERY=mode):
        author, _books, _chapters = make_tree()
        assert rowsync_queries_of(author.delete)[0] == []
        assert left_over() == 0


def test_worker_mode_keeps_the_session_and_its_events_for_the_worker(connect):
    """A worker may connect receivers this process lacks: its events must reach it."""
    with override_settings(ROWSYNC_DELIVERY="worker"):
        author, books, chapters = make_tree(reviews=0)
        author.delete()
        assert left_over() == len(books) + len(chapters)
        rec = connect.add(post_delete, Book)
        drain()
        expected = [("Book", b.pk) for b in books]
        assert tally(expected, rec.keys()) == {**perfect(expected), "stray": 0}
        assert left_over() == 0


def test_django_signalled_rows_with_receivers_are_delivered_once(connect):
    authors = connect.add(post_delete, Author)
    chapters_rec = connect.add(post_delete, Chapter)
    author, _books, chapters = make_tree()
    pk = author.pk
    author.delete()
    assert tally([("Author", pk)], authors.keys()) == {**perfect([1]), "stray": 0}
    expected = [("Chapter", c.pk) for c in chapters]
    assert tally(expected, chapters_rec.keys()) == {**perfect(expected), "stray": 0}
    drain()
    assert len(authors.calls) == 1
    assert len(chapters_rec.calls) == len(expected)


def test_set_null_rows_with_an_update_receiver_are_delivered_once(connect):
    rec = connect.add(post_db_update, Review)
    author, _books, _chapters = make_tree(reviews=3)
    reviews = sorted(r.pk for r in Review.objects.all())
    author.delete()
    drain()
    expected = [("Review", pk) for pk in reviews]
    assert tally(expected, rec.keys()) == {**perfect(expected), "stray": 0}
    assert left_over() == 0


@pytest.mark.parametrize("listen_nodes", [False, True])
def test_nested_deletes_from_receivers(connect, listen_nodes):
    """A receiver deletes more rows: each row once; nothing left behind either way."""
    made: list[int] = []

    def remove_nodes(sender, instance, **kwargs):
        root = Node.objects.create()
        made.extend([root.pk, Node.objects.create(parent=root).pk])
        Node.objects.filter(pk=root.pk).delete()

    books_rec = connect.add(post_delete, Book, Recorder(post_delete, Book))
    connect.add(post_delete, Book, remove_nodes)
    nodes_rec = connect.add(post_delete, Node) if listen_nodes else None
    author, books, _chapters = make_tree()
    with transaction.atomic():
        author.delete()
    drain()
    expected = [("Book", b.pk) for b in books]
    assert tally(expected, books_rec.keys()) == {**perfect(expected), "stray": 0}
    if nodes_rec is not None:
        want = [("Node", pk) for pk in made]
        assert tally(want, nodes_rec.keys()) == {**perfect(want), "stray": 0}
    assert left_over() == 0


def test_a_session_opens_with_one_query_on_sqlite_and_postgresql(connect):
    """The event id floor and the inboxes' positions are read together (SQLite)."""
    rec = connect.add(post_delete, Chapter)
    _author, _books, chapters = make_tree()
    with transaction.atomic(), CaptureQueriesContext(connection) as ctx:
        Chapter.objects.filter(pk=chapters[0].pk).delete()
    sqls = [q["sql"] for q in ctx.captured_queries]
    table = Chapter._meta.db_table
    first = next(i for i, sql in enumerate(sqls) if sql.startswith("DELETE") and table in sql)
    opening = [sql for sql in sqls[:first] if "rowsync" in sql]
    assert len(opening) == (2 if connection.vendor == "mysql" else 1)
    assert rec.keys() == [("Chapter", chapters[0].pk)]


def test_manual_transaction_management():
    """No atomic block and autocommit off: no commit hook to wait for, the rows go at once."""
    author, _books, chapters = make_tree()
    transaction.set_autocommit(False)
    try:
        Chapter.objects.filter(pk=chapters[0].pk).delete()
        author.delete()
        transaction.commit()
    finally:
        transaction.set_autocommit(True)
    assert left_over() == 0


@pytest.mark.skipif(
    "connection.vendor != 'postgresql'",
    reason="SQLite has one writer; InnoDB's locks make the second delete wait for the first",
)
def test_each_thread_cleans_its_own_transaction():
    """Another thread's commit neither takes nor leaves behind this transaction's rows."""
    import threading

    from django.db import connections

    errors: list[BaseException] = []

    def other():
        try:
            with transaction.atomic():
                make_tree()[0].delete()
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    with transaction.atomic():
        make_tree()[0].delete()
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert errors == []
    assert left_over() == 0
