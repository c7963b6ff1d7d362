"""Prefetching through a single related object already cached on a mapped instance.

A forward foreign key or reverse one-to-one cached on a mapped instance is kept when it
is the mapped instance of the row a fresh query would fetch; anything else (a copy, a
row a ``Prefetch(queryset=...)`` filters) is fetched again for this query.
"""

from __future__ import annotations

import copy
import warnings

import pytest
from django.db.models import Prefetch

from blog.models import Article, ArticleDetail, Blog, Tag
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


def test_select_related_everything_then_prefetch_reuses_the_join(
    blogdata, django_assert_num_queries
):
    require_mapped(Article)
    Article.objects.get(pk=blogdata.a1).blog  # noqa: B018 - an earlier query caches it
    with django_assert_num_queries(1), warnings.catch_warnings():
        # Django 6.1 deprecates select_related() without fields; projects still call it.
        warnings.filterwarnings(
            "ignore", message=r"Calling select_related\(\) with no arguments", category=Warning
        )
        articles = list(
            Article.objects.filter(blog_id=blogdata.b1)
            .order_by("pk")
            .select_related()  # every non-null foreign key, and theirs
            .prefetch_related("blog__user")
        )
        assert {a.blog.site for a in articles} == {"one"}
        assert {a.blog.user.username for a in articles} == {"u1"}


def test_nested_prefetch_with_select_related_is_one_run(blogdata, django_assert_num_queries):
    require_mapped(Article)
    inner = Article.objects.select_related("category").prefetch_related("tags").order_by("pk")
    with django_assert_num_queries(3):
        (blog,) = Blog.objects.filter(pk=blogdata.b1).prefetch_related(
            Prefetch("article_set", inner)
        )
        rows = [
            (
                a.title,
                a.category.title if a.category else None,
                sorted(t.title for t in a.tags.all()),
            )
            for a in blog.article_set.all()
        ]
    assert rows == [
        ("a1", "c1a", ["t1a", "t1b"]),
        ("a2", "c1b", ["t1a"]),
        ("a3", "c1a", ["t1b"]),
        ("a4", "c1b", []),
        ("a5", None, []),
    ]


def test_many_to_many_prefetch_whose_queryset_prefetches_in_turn(
    blogdata, django_assert_num_queries
):
    require_mapped(Tag)
    live = Tag.objects.get(pk=blogdata.t1a)
    with django_assert_num_queries(3):
        (article,) = Article.objects.filter(pk=blogdata.a1).prefetch_related(
            Prefetch("tags", Tag.objects.order_by("pk").prefetch_related("article_set"))
        )
        tags = list(article.tags.all())
        assert [sorted(a.title for a in t.article_set.all()) for t in tags] == [
            ["a1", "a2"],
            ["a1", "a3"],
        ]
    assert tags[0] is live
