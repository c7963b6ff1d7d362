"""Point 6: annotations, prefetch results and select_related caches stay per query."""

from __future__ import annotations

import pytest
from django.db.models import Count, Prefetch, Value

from tests.testapp.models import Article, Category, RegularCategory, Tag

pytestmark = pytest.mark.django_db


@pytest.fixture
def data():
    c1 = Category.objects.create(name="c1")
    a1 = Article.objects.create(name="a1", category=c1)
    a1b = Article.objects.create(name="a1b", category=c1)
    return c1, a1, a1b


def test_annotations_do_not_leak(data):
    c1, *_ = data
    first = list(Category.objects.annotate(n=Count("article")))
    second = list(Category.objects.annotate(n=Value(99)))
    assert first[0].n == 2 and second[0].n == 99
    plain = Category.objects.get(pk=c1.pk)
    assert plain is c1 and not hasattr(plain, "n")
    assert first[0] is not c1  # annotated rows are the query's own instances
    extra = list(Category.objects.extra(select={"x": "1"}))
    assert extra[0].x == 1 and not hasattr(c1, "x")


def test_filtered_prefetch_is_not_reused(data):
    c1, a1, a1b = data
    filtered = Prefetch("article_set", queryset=Article.objects.filter(name="a1"))
    (cat,) = Category.objects.prefetch_related(filtered)
    assert cat is c1 and [a.name for a in cat.article_set.all()] == ["a1"]
    (cat,) = Category.objects.prefetch_related("article_set")
    assert sorted(a.name for a in cat.article_set.all()) == ["a1", "a1b"]
    (cat,) = Category.objects.prefetch_related(filtered)
    assert [a.name for a in cat.article_set.all()] == ["a1"]


def test_to_attr_prefetch_is_not_reused(data):
    c1, *_ = data
    f = Prefetch("article_set", queryset=Article.objects.filter(name="a1b"), to_attr="arts")
    (cat,) = Category.objects.prefetch_related(f)
    assert [a.name for a in cat.arts] == ["a1b"]
    (cat,) = Category.objects.prefetch_related(Prefetch("article_set", to_attr="arts"))
    assert sorted(a.name for a in cat.arts) == ["a1", "a1b"]


def test_nested_prefetch_is_not_reused(data):
    c1, a1, a1b = data
    t1 = Tag.objects.create(name="t1")
    t2 = Tag.objects.create(name="t2")
    a1.tags.add(t1, t2)
    a1b.tags.add(t1)
    only_t1 = Prefetch("article_set__tags", queryset=Tag.objects.filter(name="t1"))
    (cat,) = Category.objects.prefetch_related(only_t1)
    assert {a.name: [t.name for t in a.tags.all()] for a in cat.article_set.all()} == {
        "a1": ["t1"],
        "a1b": ["t1"],
    }
    (cat,) = Category.objects.prefetch_related("article_set__tags")
    got = {a.name: sorted(t.name for t in a.tags.all()) for a in cat.article_set.all()}
    assert got == {"a1": ["t1", "t2"], "a1b": ["t1"]}


def test_m2m_prefetch_with_shared_related_objects(data):
    c1, a1, a1b = data
    t = Tag.objects.create(name="shared")
    a1.tags.add(t)
    a1b.tags.add(t)
    arts = list(Article.objects.prefetch_related("tags").order_by("pk"))
    assert [[x.name for x in art.tags.all()] for art in arts] == [["shared"], ["shared"]]


def test_select_related_caches_follow_the_row(data):
    c1, a1, _ = data
    r1 = RegularCategory.objects.create(name="r1")
    r2 = RegularCategory.objects.create(name="r2")
    Article.objects.filter(pk=a1.pk).update(category2=r1)
    first = Article.objects.select_related("category2").get(name="a1")
    assert first is a1 and a1.category2.name == "r1"
    Article.objects.filter(pk=a1.pk).update(category2=r2)
    assert a1.category2.name == "r2"  # the stale cache was dropped with the field
    again = Article.objects.select_related("category2").get(name="a1")
    assert again is a1 and again.category2.name == "r2"


def _books():
    from tests.ormapp.models import Book, Publish

    publish = Publish.objects.create(name="p")
    Book.objects.create(title="b1", publish=publish)
    Book.objects.create(title="b2", publish=publish)
    return publish


@pytest.mark.django_db
def test_prefetching_through_the_query_s_own_select_related_reuses_it(queries):
    from tests.ormapp.models import Book

    publish = _books()
    Book.objects.select_related("publish").get(title="b1")  # an earlier query's cache
    with queries() as q:
        books = list(Book.objects.select_related("publish").prefetch_related("publish__books"))
    assert len(q) == 2, (
        q.sql
    )  # the books with their publisher, then the publisher's books (Django's)
    assert {b.title for b in books[0].publish.books.all()} == {"b1", "b2"}
    assert books[0].publish is publish
