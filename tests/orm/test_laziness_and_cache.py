"""QuerySets are lazy and cache their results (seed 001, 1.3 and 1.4)."""

from __future__ import annotations

import gc

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from blog.models import Article
from tests.orm._identity import require_mapped


def test_building_and_filtering_a_queryset_runs_no_query(blogdata, django_assert_num_queries):
    with django_assert_num_queries(0):
        qs = Article.objects.all()
        qs = qs.filter(read_count__gt=10).exclude(title="a5").order_by("-read_count")
        qs = qs.select_related("blog").prefetch_related("tags")
    assert qs._result_cache is None


def test_first_evaluation_queries_and_caches(blogdata, django_assert_num_queries):
    qs = Article.objects.filter(blog_id=blogdata.b1)
    with django_assert_num_queries(1):
        titles = [a.title for a in qs]
        dates = [a.create_time for a in qs]
        assert len(qs) == 5
        assert bool(qs)
        assert qs[2].title == titles[2]
        assert qs.count() == 5  # answered from the result cache
        assert qs.exists()  # likewise
    assert sorted(titles) == ["a1", "a2", "a3", "a4", "a5"]
    assert len(dates) == 5


@pytest.mark.parametrize(
    "evaluate",
    [list, bool, len, lambda qs: next(iter(qs)), lambda qs: "x" in qs],
    ids=["list", "bool", "len", "iterate", "in"],
)
def test_each_evaluation_fills_the_cache(blogdata, django_assert_num_queries, evaluate):
    qs = Article.objects.all()
    with django_assert_num_queries(1):
        evaluate(qs)
        list(qs)
    assert qs._result_cache is not None


def test_two_querysets_query_twice(blogdata, django_assert_num_queries):
    with django_assert_num_queries(2):
        first = [a.title for a in Article.objects.all()]
        second = [a.read_count for a in Article.objects.all()]
    assert len(first) == len(second) == 8


def test_repr_does_not_fill_the_cache(blogdata, django_assert_num_queries):
    qs = Article.objects.all()
    with django_assert_num_queries(2):
        repr(qs)
        repr(qs)
    assert qs._result_cache is None


def test_cached_results_do_not_see_later_rows(blogdata):
    qs = Article.objects.filter(blog_id=blogdata.b2)
    assert len(qs) == 3
    Article.objects.filter(pk=blogdata.b2a1).delete()
    assert len(qs) == 3  # the cache, not the table
    assert len(qs.all()) == 2  # .all() is a new, unevaluated QuerySet


def test_exists_runs_one_small_query(blogdata, django_assert_num_queries):
    qs = Article.objects.filter(blog_id=blogdata.b1)
    with CaptureQueriesContext(connection) as ctx:
        assert qs.exists()
        assert not Article.objects.filter(title="no such").exists()
    assert len(ctx.captured_queries) == 2
    sql = ctx.captured_queries[0]["sql"].lower()
    assert "limit 1" in sql
    assert "title" not in sql.split(" from ")[0]  # selects a constant, not the columns
    assert qs._result_cache is None  # exists() does not fill the cache


def test_count_runs_one_query_without_loading_rows(blogdata, django_assert_num_queries):
    qs = Article.objects.filter(read_count__gte=20)
    with django_assert_num_queries(1):
        assert qs.count() == 4
    assert qs._result_cache is None
    with django_assert_num_queries(1):
        assert Article.objects.filter(blog_id=blogdata.b1).count() == 5


def test_same_row_in_two_querysets_is_one_instance(blogdata):
    require_mapped(Article)
    first = list(Article.objects.filter(blog_id=blogdata.b1).order_by("pk"))
    second = list(Article.objects.order_by("pk"))
    assert all(a is b for a, b in zip(first, second[:5], strict=True))


def test_no_instance_outlives_its_queryset(blogdata):
    """Plain Django: dropping the QuerySet frees the rows (the map must keep this true)."""
    import weakref

    qs = Article.objects.all()
    refs = [weakref.ref(a) for a in qs]
    del qs
    gc.collect()
    assert [r() for r in refs] == [None] * 8
