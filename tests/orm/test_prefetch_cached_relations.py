"""Prefetching through a single related object already cached on a mapped instance.

A forward foreign key or reverse one-to-one cached on a mapped instance is kept when it
is the mapped instance of the row a fresh query would fetch; anything else (a copy, a
row a ``Prefetch(queryset=...)`` filters) is fetched again for this query.
"""

from __future__ import annotations

import copy

import pytest
from django.db.models import Prefetch

from blog.models import Article, ArticleDetail, Blog
from tests.orm._identity import require_mapped


def test_cached_mapped_foreign_key_is_reused(blogdata, django_assert_num_queries):
    require_mapped(Article)
    live = Article.objects.get(pk=blogdata.a1)
    blog = live.blog
    with django_assert_num_queries(1):
        (article,) = Article.objects.filter(pk=blogdata.a1).prefetch_related("blog")
    assert article is live
    assert article.blog is blog


def test_cached_copy_of_the_row_is_fetched_again(blogdata, django_assert_num_queries):
    require_mapped(Article)
    live = Article.objects.get(pk=blogdata.a1)
    blog = Blog.objects.get(pk=blogdata.b1)
    stale = copy.copy(blog)
    stale.title = "stale"
    live.blog = stale
    with django_assert_num_queries(2):
        (article,) = Article.objects.filter(pk=blogdata.a1).prefetch_related("blog")
    assert article.blog is blog
    assert article.blog.title == "Blog one"


def test_cached_object_of_another_row_is_fetched_again(blogdata, django_assert_num_queries):
    require_mapped(Article)
    live = Article.objects.get(pk=blogdata.a1)
    other = Blog.objects.get(pk=blogdata.b2)
    # The cache names blog two while the column still holds blog one (as a raw UPDATE of
    # the cache would): a fresh query fetches blog one.
    Article.blog.field.set_cached_value(live, other)
    with django_assert_num_queries(2):
        (article,) = Article.objects.filter(pk=blogdata.a1).prefetch_related("blog")
    assert article.blog.pk == blogdata.b1


def test_filtered_prefetch_replaces_a_cached_foreign_key(blogdata, django_assert_num_queries):
    require_mapped(Article)
    live = Article.objects.get(pk=blogdata.a1)
    assert live.blog.site == "one"
    nothing = Blog.objects.filter(site="none")
    with django_assert_num_queries(2):
        (article,) = Article.objects.filter(pk=blogdata.a1).prefetch_related(
            Prefetch("blog", nothing)
        )
    assert article is live
    # This query's prefetch found no blog: the earlier query's cached one is gone.
    assert Article.blog.field.get_cached_value(article) is None
    with pytest.raises(Blog.DoesNotExist):
        article.blog  # noqa: B018


def test_cached_reverse_one_to_one_is_reused(blogdata, django_assert_num_queries):
    require_mapped(ArticleDetail)
    live = Article.objects.get(pk=blogdata.a1)
    detail = live.articledetail
    with django_assert_num_queries(1):
        (article,) = Article.objects.filter(pk=blogdata.a1).prefetch_related("articledetail")
    assert article.articledetail is detail
