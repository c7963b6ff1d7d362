"""``select_related`` joins FK and one-to-one rows into one query (seed 001, 3.2)."""

from __future__ import annotations

import warnings

from django.db import connection
from django.test.utils import CaptureQueriesContext

from blog.models import Article, Blog, Comment
from tests.orm._identity import mapped, require_mapped


def test_without_select_related_each_fk_access_queries(blogdata, django_assert_num_queries):
    with django_assert_num_queries(2):
        article = Article.objects.get(pk=blogdata.a2)
        assert article.category.title == "c1b"
    with django_assert_num_queries(0):  # the FK cache of the instance
        assert article.category.title == "c1b"


def test_select_related_saves_the_n_plus_one_queries(blogdata, django_assert_num_queries):
    # Plain Django: one query per article. With Blog mapped, an article whose blog is
    # already alive (held by an earlier article's cache) gets it from the map.
    per_article = 2 if mapped(Blog) else 8
    with django_assert_num_queries(1 + per_article):
        titles = {a.title: a.blog.title for a in Article.objects.all()}
    assert titles["a1"] == "Blog one"
    with django_assert_num_queries(1):
        titles = {a.title: a.blog.title for a in Article.objects.select_related("blog")}
    assert titles["a1"] == "Blog one"
    assert titles["b2a3"] == "Blog two"


def test_nullable_fk_uses_outer_join_and_caches_none(blogdata, django_assert_num_queries):
    with CaptureQueriesContext(connection) as ctx:
        articles = {a.title: a for a in Article.objects.select_related("category")}
        assert articles["a5"].category is None
        assert articles["a1"].category.title == "c1a"
    assert len(ctx.captured_queries) == 1
    assert "LEFT OUTER JOIN" in ctx.captured_queries[0]["sql"].upper()
    assert len(articles) == 8  # the article without a category is kept


def test_required_fk_uses_inner_join(blogdata):
    with CaptureQueriesContext(connection) as ctx:
        list(Article.objects.select_related("blog"))
    assert "INNER JOIN" in ctx.captured_queries[0]["sql"].upper()


def test_nested_blog_user(blogdata, django_assert_num_queries):
    with django_assert_num_queries(1):
        article = Article.objects.select_related("blog__user").get(pk=blogdata.a1)
        assert article.blog.user.username == "u1"
    with django_assert_num_queries(2):  # only blog joined: the user costs one more query
        article = Article.objects.select_related("blog").get(pk=blogdata.b2a1)
        assert article.blog.user.username == "u2"


def test_several_and_chained_select_related_are_equivalent(blogdata, django_assert_num_queries):
    with django_assert_num_queries(1):
        one = Article.objects.select_related("category", "articledetail").get(pk=blogdata.a1)
        assert one.articledetail.content == "content of a1"
        assert one.category.title == "c1a"
    chained = Article.objects.select_related("category").select_related("articledetail")
    with django_assert_num_queries(1):
        two = chained.get(pk=blogdata.a1)
        assert two.articledetail.content == one.articledetail.content
        assert two.category.title == one.category.title


def test_reverse_one_to_one_missing_row(blogdata, django_assert_num_queries):
    with django_assert_num_queries(1):
        article = Article.objects.select_related("articledetail").get(pk=blogdata.a4)
        assert not hasattr(article, "articledetail")  # RelatedObjectDoesNotExist, no query


def test_select_related_without_arguments_follows_non_null_fks(blogdata):
    # Django 6.1 deprecates the argument-less form (RemovedInDjango2028Warning).
    with CaptureQueriesContext(connection) as ctx, warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        comment = Comment.objects.select_related().get(pk=blogdata.reply)
        # blog is non-null: joined, and so is its required user.
        assert comment.article.blog.user.username == "u1"
    assert len(ctx.captured_queries) == 1


def test_self_fk_select_related(blogdata, django_assert_num_queries):
    with django_assert_num_queries(1):
        reply = Comment.objects.select_related("parent_comment__user").get(pk=blogdata.reply)
        assert reply.parent_comment.content == "first"
        assert reply.parent_comment.user.username == "u2"


def test_reverse_fk_is_not_joined(blogdata):
    import pytest
    from django.core.exceptions import FieldError

    with pytest.raises(FieldError, match="Invalid field name"):
        list(Blog.objects.select_related("article_set"))


def test_related_objects_are_equal_across_rows(blogdata):
    articles = list(Article.objects.filter(blog_id=blogdata.b1).select_related("blog"))
    assert len({a.blog.pk for a in articles}) == 1
    assert all(a.blog == articles[0].blog for a in articles)


def test_related_objects_are_one_instance_when_mapped(blogdata):
    require_mapped(Blog)
    live = Blog.objects.get(pk=blogdata.b1)
    articles = list(Article.objects.filter(blog_id=blogdata.b1).select_related("blog"))
    assert all(a.blog is live for a in articles)
