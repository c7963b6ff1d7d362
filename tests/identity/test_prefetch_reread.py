"""A query that re-reads a mapped instance never hands back an earlier query's related results.

Prefetch caches (``_prefetched_objects_cache``) are dropped whenever a query reads the row
again, unless this very query fills them; a reverse one-to-one cached on the row a re-read
child no longer points at is dropped too.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from django.db import connection

from rowsync import identity
from tests.ormapp.models import Author, AuthorDetail
from tests.testapp.models import Article, Category, Tag

pytestmark = pytest.mark.django_db


def _names(objs: Iterable[Article | Tag]) -> list[str]:
    return sorted(o.name for o in objs)


@pytest.fixture
def tagged() -> tuple[Article, Tag, Tag]:
    a = Article.objects.create(name="a")
    t1 = Tag.objects.create(name="t1")
    t2 = Tag.objects.create(name="t2")
    a.tags.add(t1)
    return a, t1, t2


def _prefetched(a: Article) -> Article:
    (art,) = Article.objects.prefetch_related("tags")
    assert art is a and _names(art.tags.all()) == ["t1"]
    return art


def test_iteration_without_prefetch_sees_a_row_added_from_the_other_side(tagged):
    a, _t1, t2 = tagged
    _prefetched(a)
    t2.articles.add(a)
    (art,) = Article.objects.all()
    assert art is a and _names(art.tags.all()) == ["t1", "t2"]


def test_filter_without_prefetch_sees_a_row_removed_from_the_other_side(tagged):
    a, t1, _t2 = tagged
    _prefetched(a)
    t1.articles.remove(a)
    (art,) = Article.objects.filter(name="a")
    assert art is a and list(art.tags.all()) == []


def test_get_answered_by_the_map_drops_the_earlier_prefetch(tagged, queries):
    a, _t1, t2 = tagged
    _prefetched(a)
    t2.articles.add(a)
    with queries() as q:
        art = Article.objects.get(pk=a.pk)
    assert art is a and len(q) == 0
    assert _names(art.tags.all()) == ["t1", "t2"]


def test_raw_rows_drop_the_earlier_prefetch(tagged):
    a, _t1, t2 = tagged
    _prefetched(a)
    t2.articles.add(a)
    (art,) = Article.objects.raw(f"SELECT * FROM {Article._meta.db_table}")
    assert art is a and _names(art.tags.all()) == ["t1", "t2"]


def test_select_related_joined_rows_drop_the_earlier_prefetch():
    cat = Category.objects.create(name="c")
    Article.objects.create(name="a1", category=cat)
    (c,) = Category.objects.prefetch_related("article_set")
    assert c is cat and _names(c.article_set.all()) == ["a1"]
    with connection.cursor() as cursor:  # another writer: rowsync sees nothing of it
        cursor.execute(
            f"INSERT INTO {Article._meta.db_table} (name, note, score, category_id) "
            "VALUES ('a2', '', 0, %s)",
            [cat.pk],
        )
    (art,) = Article.objects.select_related("category").filter(name="a1")
    assert art.category is cat and _names(cat.article_set.all()) == ["a1", "a2"]


def test_prefetch_results_drop_their_own_earlier_prefetch(tagged):
    a, t1, _t2 = tagged
    (tag,) = Tag.objects.filter(name="t1").prefetch_related("articles")
    assert tag is t1 and _names(tag.articles.all()) == ["a"]
    b = Article.objects.create(name="b")
    b.tags.add(t1)
    arts = list(Article.objects.prefetch_related("tags").order_by("pk"))
    assert arts == [a, b]
    assert _names(t1.articles.all()) == ["a", "b"]  # t1 was re-read as a prefetched row


def test_the_query_s_own_prefetch_is_used_without_another_query(tagged, queries):
    a, _t1, t2 = tagged
    _prefetched(a)
    t2.articles.add(a)
    with queries() as q:
        (art,) = Article.objects.prefetch_related("tags")
        names = _names(art.tags.all())
    assert art is a and names == ["t1", "t2"] and len(q) == 2


def test_a_nested_level_re_reading_an_outer_row_keeps_what_the_query_stored(tagged, queries):
    a, t1, _t2 = tagged
    with queries() as q:
        (art,) = Article.objects.prefetch_related("tags__articles")
        (tag,) = art.tags.all()
        (back,) = tag.articles.all()
        (tag_again,) = back.tags.all()
    assert art is a and tag is t1 and back is a and tag_again is t1
    assert len(q) == 3


def test_reverse_one_to_one_of_the_row_a_re_read_child_left_is_dropped():
    al = Author.objects.create(name="al")
    bo = Author.objects.create(name="bo")
    detail = AuthorDetail.objects.create(telephone="1", author=al)
    (author,) = Author.objects.select_related("detail").filter(pk=al.pk)
    assert author is al and al.detail is detail
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {AuthorDetail._meta.db_table} SET author_id = %s WHERE id = %s",
            [bo.pk, detail.pk],
        )
    (d,) = AuthorDetail.objects.all()
    assert d is detail and d.author is bo
    with pytest.raises(AuthorDetail.DoesNotExist):
        al.detail  # noqa: B018


def test_update_moving_a_one_to_one_drops_the_reverse_cache_of_the_row_it_left():
    al = Author.objects.create(name="al")
    bo = Author.objects.create(name="bo")
    detail = AuthorDetail.objects.create(telephone="1", author=al)
    assert al.detail is detail and detail.author is al
    AuthorDetail.objects.filter(pk=detail.pk).update(author=bo)
    assert detail.author is bo
    with pytest.raises(AuthorDetail.DoesNotExist):
        al.detail  # noqa: B018


def test_a_re_read_child_keeps_the_reverse_cache_of_an_unchanged_one_to_one():
    al = Author.objects.create(name="al")
    detail = AuthorDetail.objects.create(telephone="1", author=al)
    (author,) = Author.objects.select_related("detail")
    assert author.detail is detail
    (d,) = AuthorDetail.objects.all()
    assert d is detail and al.detail is detail and detail.author is al


def test_update_row_moving_a_one_to_one_drops_the_reverse_cache_of_the_row_it_left():
    al = Author.objects.create(name="al")
    bo = Author.objects.create(name="bo")
    detail = AuthorDetail.objects.create(telephone="1", author=al)
    assert al.detail is detail and detail.author is al
    AuthorDetail.objects.filter(pk=detail.pk).update(author=bo)  # the database's change ...
    detail.author_id = al.pk  # ... reaching an instance still pointing at al
    AuthorDetail._meta.get_field("author").set_cached_value(detail, al)
    AuthorDetail._meta.get_field("author").remote_field.set_cached_value(al, detail)
    identity.update_row(AuthorDetail, detail.pk, "default", {"author": bo.pk})
    assert detail.author is bo
    with pytest.raises(AuthorDetail.DoesNotExist):
        al.detail  # noqa: B018


def test_get_drops_what_a_nested_prefetch_level_stored_on_a_loaded_row(queries):
    cat = Category.objects.create(name="c")
    a = Article.objects.create(name="a", category=cat)
    t1, t2 = Tag.objects.create(name="t1"), Tag.objects.create(name="t2")
    a.tags.add(t1)
    identity.flush()  # the articles below are built by the loader (a nested level)
    (c,) = Category.objects.prefetch_related("article_set__tags")
    (art,) = c.article_set.all()
    assert _names(art.tags.all()) == ["t1"]
    t2.articles.add(art)
    with queries() as q:
        got = Article.objects.get(pk=a.pk)
    assert got is art and len(q) == 0
    assert _names(got.tags.all()) == ["t1", "t2"]


def test_get_keeps_a_loaded_row_that_no_prefetch_met_untouched(queries):
    Article.objects.create(name="a")
    identity.flush()
    (art,) = Article.objects.all()
    with queries() as q:
        assert Article.objects.get(pk=art.pk) is art
    assert len(q) == 0 and "_prefetched_objects_cache" not in art.__dict__
