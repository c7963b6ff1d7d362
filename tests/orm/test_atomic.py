"""``transaction.atomic``: nesting, savepoint rollback (seed 001, part 7), row locks."""

from __future__ import annotations

import threading

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from blog.models import Article, Tag


class Boom(Exception):
    pass


# Django 6.1 renames savepoint() to savepoint_create().
savepoint_create = getattr(transaction, "savepoint_create", transaction.savepoint)


def title_of(pk):
    return Article.objects.filter(pk=pk).values_list("title", flat=True).get()


def test_nested_inner_rollback_keeps_outer_work(blogdata):
    with transaction.atomic():
        Article.objects.filter(pk=blogdata.a1).update(title="outer")
        with pytest.raises(Boom), transaction.atomic():
            Article.objects.filter(pk=blogdata.a2).update(title="inner")
            Tag.objects.create(title="inner tag", blog_id=blogdata.b1)
            raise Boom
        assert title_of(blogdata.a2) == "a2"
    assert title_of(blogdata.a1) == "outer"
    assert not Tag.objects.filter(title="inner tag").exists()


def test_instance_changes_rolled_back_are_not_served_later(blogdata):
    article = Article.objects.get(pk=blogdata.a3)
    with pytest.raises(Boom), transaction.atomic():
        article.title = "changed"
        article.save()
        created = Tag.objects.create(title="ghost", blog_id=blogdata.b1)
        ghost_pk = created.pk
        raise Boom
    # Plain Django: a fresh query shows the database, not the rolled-back values.
    assert Article.objects.get(pk=blogdata.a3).title == "a3"
    assert list(Article.objects.filter(pk=blogdata.a3).values_list("title", flat=True)) == ["a3"]
    with pytest.raises(Tag.DoesNotExist):
        Tag.objects.get(pk=ghost_pk)


def test_explicit_savepoint_rollback(blogdata):
    with transaction.atomic():
        Article.objects.filter(pk=blogdata.a1).update(read_count=1)
        sid = savepoint_create()
        Article.objects.filter(pk=blogdata.a1).update(read_count=2)
        article = Article.objects.get(pk=blogdata.a1)
        assert article.read_count == 2
        transaction.savepoint_rollback(sid)
        assert Article.objects.get(pk=blogdata.a1).read_count == 1
        sid = savepoint_create()
        Article.objects.filter(pk=blogdata.a1).update(read_count=3)
        transaction.savepoint_commit(sid)
    assert Article.objects.get(pk=blogdata.a1).read_count == 3


def test_set_rollback_discards_the_block(blogdata):
    with transaction.atomic():
        with transaction.atomic():
            Tag.objects.create(title="doomed", blog_id=blogdata.b1)
            transaction.set_rollback(True)
        assert not Tag.objects.filter(title="doomed").exists()


def test_atomic_without_savepoint_marks_the_outer_block(blogdata):
    with pytest.raises(Boom), transaction.atomic():
        Tag.objects.create(title="kept?", blog_id=blogdata.b1)
        try:
            with transaction.atomic(savepoint=False):
                raise Boom
        finally:
            assert transaction.get_rollback()
    assert not Tag.objects.filter(title="kept?").exists()


@pytest.mark.django_db(transaction=True)
def test_outermost_atomic_commits_or_rolls_back():
    from tests.orm.conftest import create_blog

    ids = create_blog()
    with pytest.raises(Boom), transaction.atomic():
        Article.objects.filter(pk=ids.a1).update(title="lost")
        raise Boom
    assert title_of(ids.a1) == "a1"
    with transaction.atomic():
        Article.objects.filter(pk=ids.a1).update(title="kept")
    assert title_of(ids.a1) == "kept"


def test_select_for_update_get_runs_its_query(blogdata):
    live = Article.objects.get(pk=blogdata.a1)  # a live instance must not answer it
    with transaction.atomic(), CaptureQueriesContext(connection) as ctx:
        locked = Article.objects.select_for_update().get(pk=blogdata.a1)
    assert locked.pk == live.pk
    selects = [q["sql"] for q in ctx.captured_queries if q["sql"].upper().startswith("SELECT")]
    assert len(selects) == 1
    if connection.features.has_select_for_update:
        assert "FOR UPDATE" in selects[0].upper()


@pytest.mark.django_db(transaction=True)
def test_select_for_update_outside_a_transaction_is_an_error():
    if not connection.features.has_select_for_update:
        pytest.skip("backend ignores select_for_update")
    with pytest.raises(transaction.TransactionManagementError):
        list(Article.objects.select_for_update())


@pytest.mark.django_db(transaction=True)
def test_select_for_update_takes_the_row_lock():
    if not connection.features.has_select_for_update_nowait:
        pytest.skip("backend has no SELECT ... FOR UPDATE NOWAIT")
    from tests.orm.conftest import create_blog

    ids = create_blog()
    Article.objects.get(pk=ids.a1)  # loaded before: the lock must still be taken
    outcome = {}

    def contend():
        try:
            with transaction.atomic():
                Article.objects.select_for_update(nowait=True).get(pk=ids.a1)
            outcome["error"] = None
        except DatabaseError as exc:
            outcome["error"] = exc
        finally:
            connections.close_all()

    with transaction.atomic():
        Article.objects.select_for_update().get(pk=ids.a1)
        worker = threading.Thread(target=contend)
        worker.start()
        worker.join(30)
    assert isinstance(outcome["error"], DatabaseError)
    worker = threading.Thread(target=contend)  # the lock is gone after commit
    worker.start()
    worker.join(30)
    assert outcome["error"] is None
