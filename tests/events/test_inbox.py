"""Inbox tables: what the capture triggers copy, how rows move into the queue, and leases."""

from __future__ import annotations

import datetime
import threading
import time

import pytest
from django.db import connection, transaction
from django.db.models.signals import post_delete

from blog.models import Article, Blog, UserInfo
from rowsync.backends import get_backend
from rowsync.events import inbox
from rowsync.events.capture import capture_spec
from rowsync.events.triggers import capture_objects
from rowsync.events.worker import MOVE_BATCHES, Worker
from rowsync.models import DeletedRow
from rowsync.schema import install_objects, uninstall_objects

pytestmark = [pytest.mark.django_db, pytest.mark.requires("capture_inbox")]

INBOX = capture_spec(Article).inbox  # type: ignore[union-attr]


def make_articles(count: int) -> list[Article]:
    user = UserInfo.objects.create(username="inbox")
    blog = Blog.objects.create(title="t", site="inbox", theme="x", user=user)
    day = datetime.date(2026, 1, 2)
    return [
        Article.objects.create(title=f"a{i}", desc="d", blog=blog, create_time=day)
        for i in range(count)
    ]


def raw_delete(pks: list[int]) -> None:
    q = connection.ops.quote_name
    marks = ", ".join(["%s"] * len(pks))
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {q('blog_article')} WHERE {q('nid')} IN ({marks})", pks)


def inbox_rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(INBOX)}")
        return int(cursor.fetchone()[0])


def test_a_raw_delete_is_copied_into_the_inbox_not_the_queue():
    articles = make_articles(3)
    raw_delete([a.pk for a in articles])
    assert inbox_rows() == 3
    assert not DeletedRow.objects.exists()
    assert inbox.pending_count("default") == 3


def test_moving_builds_the_same_row_image_as_a_queue_event():
    (article,) = make_articles(1)
    raw_delete([article.pk])
    with transaction.atomic():
        assert inbox.move_free("default", 100) == 1
    assert inbox_rows() == 0
    event = DeletedRow.objects.get()
    assert (event.model_label, event.op, event.pk_text) == ("blog.article", "D", str(article.pk))
    assert event.claimed_by == "" and event.txid != "" or connection.vendor == "sqlite"
    image = event.row
    assert image["title"] == "a0" and image["blog_id"] == article.blog_id
    assert str(image["create_time"]).startswith("2026-01-02")


def test_the_worker_moves_rows_in_chunks_and_delivers_them_batch_by_batch():
    articles = make_articles(MOVE_BATCHES * 2 + 5)
    raw_delete([a.pk for a in articles])
    seen: list[int] = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance.pk)

    post_delete.connect(receiver, sender=Article, weak=False)
    try:
        worker = Worker(using="default", batch_size=2)
        assert worker.run_once() == 2
        if get_backend(connection).inbox_take:  # taken by the delivering transaction
            assert inbox_rows() == MOVE_BATCHES * 2 + 3
            assert not DeletedRow.objects.exists()
        else:
            assert inbox_rows() == 5  # MOVE_BATCHES batches moved at once
            assert DeletedRow.objects.count() == MOVE_BATCHES * 2 - 2
        worker.run(drain=True)
    finally:
        post_delete.disconnect(receiver, sender=Article)
    assert sorted(seen) == sorted(a.pk for a in articles)
    assert inbox_rows() == 0 and not DeletedRow.objects.exists()


def test_a_leased_row_stays_until_its_lease_ends():
    (article,) = make_articles(1)
    raw_delete([article.pk])
    q = connection.ops.quote_name
    future = "2999-01-01 00:00:00"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {q(INBOX)} SET {q('rowsync_claim')} = %s, {q('rowsync_until')} = %s",
            ["someone", future],
        )
    with transaction.atomic():
        assert inbox.move_free("default", 100) == 0
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {q(INBOX)} SET {q('rowsync_until')} = %s", ["2000-01-01 00:00:00"])
    with transaction.atomic():
        assert inbox.move_free("default", 100) == 1
    assert DeletedRow.objects.get().claimed_by == "someone"


@pytest.mark.django_db(transaction=True)
def test_removing_an_inbox_moves_its_rows_into_the_queue_first():
    articles = make_articles(2)
    raw_delete([a.pk for a in articles])
    objects = capture_objects(Article, get_backend(connection))
    uninstall_objects(connection, objects)
    try:
        assert INBOX not in connection.introspection.table_names()
        assert sorted(DeletedRow.objects.values_list("pk_text", flat=True)) == sorted(
            str(a.pk) for a in articles
        )
        # Removing it again (nothing there) is harmless.
        uninstall_objects(connection, objects)
    finally:
        install_objects(connection, objects)
    assert INBOX in connection.introspection.table_names()


def test_an_orm_delete_in_the_transaction_leaves_the_inbox_empty(
    django_capture_on_commit_callbacks,
):
    articles = make_articles(4)
    seen: list[int] = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance.pk)
        assert instance.title.startswith("a") and instance.create_time == datetime.date(2026, 1, 2)

    post_delete.connect(receiver, sender=Article, weak=False)
    try:
        with transaction.atomic():
            articles[0].blog.delete()  # the database cascades to the articles
            assert sorted(seen) == sorted(a.pk for a in articles)
            assert inbox_rows() == 0
    finally:
        post_delete.disconnect(receiver, sender=Article)


@pytest.mark.skipif("connection.vendor != 'sqlite'")
def test_a_row_that_cannot_be_rebuilt_is_handed_to_the_worker():
    # SQLite's inbox keeps any value: spoil one as it is written.
    articles = make_articles(2)
    bad = articles[0].pk
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TRIGGER spoil AFTER INSERT ON main.{q(INBOX)} WHEN NEW.nid = {bad} "
            f"BEGIN UPDATE {q(INBOX)} SET create_time = '2026-13-45' "
            f"WHERE {q('rowsync_seq')} = NEW.{q('rowsync_seq')}; END"
        )
    seen: list[int] = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance.pk)

    post_delete.connect(receiver, sender=Article, weak=False)
    try:
        with transaction.atomic():
            articles[0].blog.delete()
    finally:
        post_delete.disconnect(receiver, sender=Article)
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER IF EXISTS temp.spoil")
    assert seen == [articles[1].pk]
    event = DeletedRow.objects.get()
    assert event.pk_text == str(bad) and event.claimed_by == ""
    assert inbox_rows() == 0


@pytest.mark.django_db(transaction=True)
def test_flush_empties_the_inboxes_too():
    from django.core.management import call_command

    (article,) = make_articles(1)
    raw_delete([article.pk])
    assert INBOX in connection.introspection.django_table_names(only_existing=True)
    call_command("flush", interactive=False, verbosity=0)
    assert inbox_rows() == 0


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's flush walks references")
def test_flush_does_not_walk_the_references_of_inboxes():
    # SQLite's sql_flush(allow_cascade=True) (TransactionTestCase with available_apps)
    # finds the tables referencing each flushed table with one query per table, REGEXP
    # over the SQL of the whole schema, in a cache of 512 tables. Inboxes reference
    # nothing and nothing references them: walking them too doubled the tables of a
    # project and, past the cache, made each flush quadratic in the schema.
    from django.core.management.color import no_style

    graph = connection.ops._references_graph
    graph.cache_clear()
    sql = connection.ops.sql_flush(no_style(), [INBOX], allow_cascade=True)
    assert graph.cache_info().misses == 0
    assert sql == [f'DELETE FROM "{INBOX}";']
    sql = connection.ops.sql_flush(no_style(), ["blog_blog", INBOX], allow_cascade=True)
    assert graph.cache_info().misses == 1
    assert f'DELETE FROM "{INBOX}";' in sql and 'DELETE FROM "blog_article";' in sql


@pytest.mark.django_db(transaction=True)
def test_a_captured_model_whose_migration_has_not_run_yet_breaks_nothing():
    # Captured in the settings, but its triggers and inbox are not installed yet: deletes
    # and the worker go on (nothing is captured for it until the migration runs).
    articles = make_articles(2)
    objects = capture_objects(Article, get_backend(connection))
    uninstall_objects(connection, objects)
    inbox.forget_tables()
    try:
        articles[0].blog.delete()
        assert not Article.objects.exists()
        assert Worker(using="default").run(drain=True).delivered == 0
        assert inbox.pending_count("default") == 0
    finally:
        install_objects(connection, objects)
        inbox.forget_tables()
    assert INBOX in connection.introspection.table_names()


class Statements:
    """Record the SQL run on the default connection (``execute_wrapper``)."""

    def __init__(self) -> None:
        self.sql: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        self.sql.append(sql)
        return execute(sql, params, many, context)

    def on_inboxes(self, verb: str = "") -> list[str]:
        return [s for s in self.sql if "rowsync_cb_" in s and verb in s]


@pytest.mark.django_db(transaction=True)
def test_an_idle_worker_looks_into_every_inbox_with_one_query():
    # A wake-up with nothing in the inboxes must not cost one statement per inbox.
    assert len(inbox.present("default", inbox.specs("default"))) > 1
    statements = Statements()
    with connection.execute_wrapper(statements):
        assert Worker(using="default", batch_size=10).run_once() == 0
    assert len(statements.on_inboxes()) == 1


@pytest.mark.django_db(transaction=True)
def test_the_worker_moves_only_from_the_inboxes_holding_free_rows():
    articles = make_articles(2)
    raw_delete([a.pk for a in articles])
    statements = Statements()
    with connection.execute_wrapper(statements):
        assert Worker(using="default", batch_size=10).run_once() == 2
    moves = statements.on_inboxes("DELETE")
    assert len(moves) == 1 and INBOX in moves[0]
    assert inbox_rows() == 0


def test_holding_sees_free_rows_and_leases_that_ran_out_only():
    boxes = inbox.present("default", inbox.specs("default"))
    assert inbox.holding("default", boxes) == ()
    (article,) = make_articles(1)
    raw_delete([article.pk])
    (box,) = inbox.holding("default", boxes)
    assert box.inbox == INBOX
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {q(INBOX)} SET {q('rowsync_claim')} = %s, {q('rowsync_until')} = %s",
            ["someone", "2999-01-01 00:00:00"],
        )
    assert inbox.holding("default", boxes) == ()
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {q(INBOX)} SET {q('rowsync_until')} = %s", ["2000-01-01 00:00:00"])
    assert inbox.holding("default", boxes) == (box,)


@pytest.mark.requires("supports_notify")
@pytest.mark.requires("supports_skip_locked")
@pytest.mark.django_db(transaction=True)
def test_an_idle_worker_looks_again_soon_while_another_worker_moves_the_inbox_rows():
    # Another worker's refill holds the inbox rows; it announces nothing when it commits
    # (it would wake every worker), so waiting for a notification or the poll would leave
    # the rows it moved to it alone.
    articles = make_articles(3)
    raw_delete([a.pk for a in articles])
    moving, release, looked = threading.Event(), threading.Event(), threading.Event()
    seen: list[int] = []

    def mover():
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    for sql in get_backend(connection).worker_refill_sql():
                        cursor.execute(sql)
                assert inbox.move_free("default", 100) == 3
                moving.set()
                release.wait(10)
        finally:
            connection.close()

    worker = Worker(using="default", batch_size=10, poll_interval=60, progress_interval=0)

    def note_take(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.startswith(f'DELETE FROM "{DeletedRow._meta.db_table}"'):
            looked.set()
        return result

    def run():
        try:
            with connection.execute_wrapper(note_take):
                worker.run()
        finally:
            connection.close()

    def receiver(sender, instance, **kwargs):
        seen.append(instance.pk)

    post_delete.connect(receiver, sender=Article, weak=False)
    threads = [threading.Thread(target=mover), threading.Thread(target=run)]
    try:
        threads[0].start()
        assert moving.wait(10)
        threads[1].start()
        assert looked.wait(30)  # the worker found the rows held by the mover, took nothing
        time.sleep(0.2)
        release.set()
        deadline = time.monotonic() + 10
        while len(seen) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        release.set()
        worker.stop()
        for thread in threads:
            thread.join(10)
        post_delete.disconnect(receiver, sender=Article)
    assert sorted(seen) == sorted(a.pk for a in articles)


@pytest.mark.requires("supports_notify")
@pytest.mark.django_db(transaction=True)
def test_the_refill_alone_commits_without_waiting_for_the_disk():
    # A batch that failed moves its inbox rows (their own commit) and then delivers them
    # (a durable commit): only the move may skip the flush, since losing it leaves the
    # rows in the inbox and the delivering commit flushes it anyway.
    articles = make_articles(2)
    raw_delete([a.pk for a in articles])
    seen: dict[str, str] = {}
    failed: list[int] = []

    def fail_once(sender, instance, **kwargs):
        if not failed:
            failed.append(instance.pk)
            raise RuntimeError("once")

    def note_setting(execute, sql, params, many, context):
        table = f'"{DeletedRow._meta.db_table}"'
        step = "move" if f"INSERT INTO {table}" in sql else None
        step = "take" if sql.startswith(f"DELETE FROM {table}") else step
        if step:
            with connection.connection.cursor() as raw:  # the driver's: not wrapped again
                raw.execute("SHOW synchronous_commit")
                seen[step] = raw.fetchone()[0]
        return execute(sql, params, many, context)

    worker = Worker(using="default", batch_size=10, poll_interval=60, progress_interval=0)
    post_delete.connect(fail_once, sender=Article, weak=False)
    try:
        with connection.execute_wrapper(note_setting):
            stats = worker.run(drain=True)
    finally:
        post_delete.disconnect(fail_once, sender=Article)
    assert (stats.delivered, stats.failed) == (2, 0)  # the retry went through
    assert seen == {"move": "off", "take": "on"}
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
