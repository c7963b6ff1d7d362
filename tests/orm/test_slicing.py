"""QuerySets can be sliced: LIMIT/OFFSET, no negative indexes (seed 001, 1.1 and 1.4)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from blog.models import Article


@pytest.fixture
def ordered(blogdata):
    return Article.objects.order_by("pk")


def test_slice_is_lazy_and_limits_the_query(blogdata, ordered, django_assert_num_queries):
    with django_assert_num_queries(0):
        page = ordered[1:3]
    with CaptureQueriesContext(connection) as ctx:
        rows = list(page)
    assert [a.pk for a in rows] == blogdata.articles[1:3]
    assert len(ctx.captured_queries) == 1
    assert "LIMIT 2" in ctx.captured_queries[0]["sql"].upper()
    assert "OFFSET 1" in ctx.captured_queries[0]["sql"].upper()


def test_head_and_tail_slices(blogdata, ordered):
    assert [a.pk for a in ordered[:5]] == blogdata.articles[:5]
    assert [a.pk for a in ordered[5:]] == blogdata.articles[5:]
    assert [a.pk for a in ordered[100:]] == []


def test_negative_index_and_slice_are_rejected(ordered):
    with pytest.raises(ValueError, match="Negative indexing is not supported"):
        ordered[-1]
    with pytest.raises(ValueError, match="Negative indexing is not supported"):
        ordered[-3:]


def test_step_evaluates_and_returns_a_list(blogdata, ordered, django_assert_num_queries):
    with django_assert_num_queries(1):
        every_other = ordered[::2]
    assert isinstance(every_other, list)
    assert [a.pk for a in every_other] == blogdata.articles[::2]
    assert [a.pk for a in ordered[1:7:3]] == blogdata.articles[1:7:3]


def test_index_out_of_range(blogdata, ordered):
    with pytest.raises(IndexError):
        ordered[100]
    assert ordered[0].pk == blogdata.articles[0]


def test_sliced_queryset_cannot_be_filtered(ordered):
    with pytest.raises(TypeError, match="Cannot filter a query once a slice has been taken"):
        ordered[:2].filter(title="a1")


def test_indexing_unevaluated_queryset_queries_every_time(
    blogdata, ordered, django_assert_num_queries
):
    with django_assert_num_queries(2):
        assert ordered[4].title == "a5"
        assert ordered[4].title == "a5"
    assert ordered._result_cache is None


def test_indexing_evaluated_queryset_uses_the_cache(blogdata, ordered, django_assert_num_queries):
    list(ordered)
    with django_assert_num_queries(0):
        assert ordered[4].title == "a5"
        assert [a.title for a in ordered[1:3]] == ["a2", "a3"]
        assert [a.title for a in ordered[::4]] == ["a1", "a5"]
