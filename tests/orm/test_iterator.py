"""``iterator()`` streams rows without filling the result cache (seed 001, 1.5)."""

from __future__ import annotations

import gc
import weakref

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from blog.models import Article, Tag
from tests.orm._identity import require_mapped


@pytest.mark.parametrize("chunk_size", [None, 1, 3, 2000])
def test_iterator_yields_every_row_without_caching(blogdata, chunk_size):
    qs = Article.objects.order_by("pk")
    kwargs = {} if chunk_size is None else {"chunk_size": chunk_size}
    with CaptureQueriesContext(connection) as ctx:
        titles = [a.title for a in qs.iterator(**kwargs)]
    assert len(ctx.captured_queries) == 1
    assert titles == ["a1", "a2", "a3", "a4", "a5", "b2a1", "b2a2", "b2a3"]
    assert qs._result_cache is None


def test_exhausted_iterator_yields_nothing_and_each_call_queries(
    blogdata, django_assert_num_queries
):
    qs = Article.objects.all()
    with django_assert_num_queries(2):
        rows = qs.iterator()
        assert len(list(rows)) == 8
        assert list(rows) == []  # already consumed
        assert len(list(qs.iterator())) == 8  # a new call runs the query again


def test_iterator_with_prefetch_needs_chunk_size_and_prefetches_per_chunk(
    blogdata, django_assert_num_queries
):
    qs = Article.objects.filter(blog_id=blogdata.b1).order_by("pk").prefetch_related("tags")
    with pytest.raises(ValueError, match="chunk_size must be provided"):
        next(qs.iterator())
    # 5 rows in chunks of 2: the main query, then one tags query per chunk (3 chunks).
    with django_assert_num_queries(4):
        tags = {a.title: sorted(t.title for t in a.tags.all()) for a in qs.iterator(2)}
    assert tags == {"a1": ["t1a", "t1b"], "a2": ["t1a"], "a3": ["t1b"], "a4": [], "a5": []}


def test_iterator_does_not_keep_rows_alive(blogdata):
    refs = []
    for article in Article.objects.iterator(chunk_size=2):
        refs.append(weakref.ref(article))
    del article
    gc.collect()
    assert len(refs) == 8
    assert [r() for r in refs] == [None] * 8


def test_iterator_rows_can_be_freed_while_streaming(blogdata):
    """Each row can die before the next arrives: nothing else holds the rows."""
    alive_during_loop = []
    previous = None
    for article in Tag.objects.order_by("pk").iterator(chunk_size=1):
        if previous is not None:
            gc.collect()
            alive_during_loop.append(previous() is not None)
        previous = weakref.ref(article)
        del article
    assert alive_during_loop == [False, False]


def test_iterator_returns_the_live_instance(blogdata):
    require_mapped(Article)
    live = Article.objects.get(pk=blogdata.a3)
    (streamed,) = Article.objects.filter(pk=blogdata.a3).iterator()
    assert streamed is live
