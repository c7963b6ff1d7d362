"""Point 2: only()/defer() never mis-assign; later loads fill deferred fields; refresh works."""

from __future__ import annotations

import asyncio

import pytest
from django.db import connection

import rowsync
from tests.testapp.models import Article, Category, RegularCategory

pytestmark = pytest.mark.django_db


def _raw_update(table: str, column: str, value: object, pk: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [value, pk])


@pytest.fixture
def article():
    c = Category.objects.create(name="c")
    r = RegularCategory.objects.create(name="r")
    a = Article.objects.create(name="n", note="note", score=7, category=c, category2=r)
    pk = a.pk
    rowsync.flush()
    return pk, c.pk, r.pk


def test_only_and_defer_assign_by_name(article, queries):
    pk, cpk, rpk = article
    a = Article.objects.only("name").get(pk=pk)
    assert a.get_deferred_fields() == {"note", "score", "category_id", "category2_id"}
    assert a.name == "n"
    rowsync.flush()
    b = Article.objects.defer("name").get(pk=pk)
    assert b.get_deferred_fields() == {"name"}
    assert (b.note, b.score, b.category_id, b.category2_id) == ("note", 7, cpk, rpk)
    assert b.name == "n"  # loaded on access, into the right field


def test_later_full_load_fills_deferred_fields(article, queries):
    pk, cpk, _ = article
    a = Article.objects.only("name").get(pk=pk)
    assert Article.objects.get(pk=pk) is a  # SQL-free: same instance, still partial
    full = list(Article.objects.filter(pk=pk))[0]
    assert full is a
    with queries() as q:
        assert (a.note, a.score, a.category_id) == ("note", 7, cpk)
    assert len(q) == 0
    assert a.get_deferred_fields() == set()


def test_partial_load_never_overwrites_or_shifts(article):
    pk, cpk, _ = article
    a = Article.objects.get(pk=pk)
    a.note = "unsaved"
    b = Article.objects.defer("name").get(pk=a.pk + 0) if False else None
    assert b is None
    again = list(Article.objects.defer("name").filter(pk=pk))[0]
    assert again is a and a.note == "unsaved" and a.name == "n" and a.score == 7


def test_save_after_only_does_not_corrupt(article):
    pk, cpk, rpk = article
    a = Article.objects.only("name").get(pk=pk)
    a.name = "renamed"
    a.save()
    rowsync.flush()
    b = Article.objects.get(pk=pk)
    assert (b.name, b.note, b.score, b.category_id, b.category2_id) == (
        "renamed",
        "note",
        7,
        cpk,
        rpk,
    )


def test_refresh_from_db_reads_the_database(article):
    pk, *_ = article
    a = Article.objects.get(pk=pk)
    _raw_update("testapp_article", "name", "db-name", pk)
    _raw_update("testapp_article", "note", "db-note", pk)
    a.refresh_from_db(fields=["name"])
    assert a.name == "db-name" and a.note == "note"
    a.refresh_from_db()
    assert a.note == "db-note"
    assert Article.objects.get(pk=pk) is a


def test_refresh_from_db_from_queryset_and_after_flush(article):
    pk, *_ = article
    a = Article.objects.get(pk=pk)
    _raw_update("testapp_article", "name", "qs-name", pk)
    a.refresh_from_db(from_queryset=Article.objects.filter(score=7))
    assert a.name == "qs-name"
    rowsync.flush()
    a.refresh_from_db()
    assert Article.objects.get(pk=pk) is a  # put back into the map


def test_refresh_clears_stale_fk_cache(article):
    pk, cpk, _ = article
    a = Article.objects.select_related("category").get(pk=pk)
    other = Category.objects.create(name="other")
    _raw_update("testapp_article", "category_id", other.pk, pk)
    a.refresh_from_db()
    assert a.category is other


@pytest.mark.django_db(transaction=True)
def test_arefresh_from_db(article):
    pk, *_ = article
    a = Article.objects.get(pk=pk)
    _raw_update("testapp_article", "name", "async-name", pk)
    asyncio.run(a.arefresh_from_db())
    assert a.name == "async-name"
    asyncio.run(a.arefresh_from_db(fields=["note"]))
    assert a.note == "note"


def test_refresh_with_a_reverse_one_to_one_name():
    # Django accepts a reverse one-to-one accessor in refresh_from_db(fields=...): it
    # clears the cached related object. It has no column, so nothing is remembered.
    from tests.ormapp.models import Author, AuthorDetail

    author = Author.objects.create(name="a")
    assert not hasattr(author, "detail")
    AuthorDetail.objects.create(author=author, telephone="1")
    author.refresh_from_db(fields=["detail"])
    assert author.detail.telephone == "1"


def test_refresh_with_a_prefetched_reverse_accessor():
    # "contract_set" is a prefetch cache name, not a field name: Django drops that
    # prefetch result and reloads nothing else.
    from tests.ormapp.models import Author, Contract, Publish

    publish = Publish.objects.create(name="p")
    author = Author.objects.create(name="a")
    p = Publish.objects.prefetch_related("contract_set").get(pk=publish.pk)
    assert list(p.contract_set.all()) == []
    contract = Contract.objects.create(publish=publish, author=author, role="r")
    p.name = "edited"
    p.refresh_from_db(fields=["contract_set"])
    assert list(p.contract_set.all()) == [contract]
    assert p.name == "edited"  # not read: still an unsaved edit
    Publish.objects.get(pk=publish.pk)  # a re-query keeps the edit
    assert p.name == "edited"


def test_a_full_refresh_loads_expired_fields_in_its_one_query(article, queries):
    pk, _, _ = article
    a = Article.objects.get(pk=pk)
    Article.objects.filter(pk=pk).update(name="new", score=8)  # expires name and score
    with queries() as q:
        a.refresh_from_db()
        assert (a.name, a.score, a.note) == ("new", 8, "note")
    assert len(q) == 1


def test_a_full_refresh_leaves_fields_deferred_by_the_query_deferred(article, queries):
    pk, _, _ = article
    a = Article.objects.only("name").get(pk=pk)
    Article.objects.filter(pk=pk).update(name="new")
    a.refresh_from_db()
    assert a.get_deferred_fields() == {"note", "score", "category_id", "category2_id"}
    assert a.name == "new"


def test_a_full_refresh_of_a_deleted_row_keeps_the_fields_expired(article):
    pk, _, _ = article
    a = Article.objects.get(pk=pk)
    Article.objects.filter(pk=pk).update(score=9)
    Article.objects.filter(pk=pk).delete()
    with pytest.raises(Article.DoesNotExist):
        a.refresh_from_db()
    assert "score" in a.get_deferred_fields()
