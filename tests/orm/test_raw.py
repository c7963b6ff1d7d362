"""``Manager.raw()``: SQL in, model instances out (seed 001, part 5)."""

from __future__ import annotations

import pytest
from django.core.exceptions import FieldDoesNotExist
from django.db import connection

from blog.models import Article, Blog
from tests.orm._identity import require_mapped


def test_raw_returns_model_instances(blogdata, django_assert_num_queries):
    rows = Article.objects.raw(
        "SELECT * FROM blog_article WHERE read_count > %s ORDER BY nid", [25]
    )
    with django_assert_num_queries(1):
        got = [(type(a), a.title, a.read_count) for a in rows]
    assert got == [(Article, "a3", 30), (Article, "a4", 40), (Article, "a5", 50)]


def test_raw_is_lazy_and_reruns_on_each_iteration(blogdata, django_assert_num_queries):
    with django_assert_num_queries(0):
        rows = Article.objects.raw("SELECT * FROM blog_article")
    with django_assert_num_queries(1):
        assert len(rows) == 8  # len() fills the RawQuerySet's cache
    with django_assert_num_queries(0):
        assert rows[0].pk in blogdata.articles


def test_raw_translations_map_columns_to_fields(blogdata):
    desc = connection.ops.quote_name("desc")  # a reserved word in SQL
    rows = Article.objects.raw(
        f"SELECT nid AS ident, title AS heading, {desc} AS about FROM blog_article WHERE nid = %s",
        [blogdata.a2],
        translations={"ident": "nid", "heading": "title", "about": "desc"},
    )
    (article,) = rows
    assert (article.pk, article.title, article.desc) == (blogdata.a2, "a2", "desc a2")


def test_raw_missing_columns_are_deferred(blogdata, django_assert_num_queries):
    with django_assert_num_queries(1):
        (article,) = Article.objects.raw(
            "SELECT nid, title FROM blog_article WHERE nid = %s", [blogdata.a3]
        )
    deferred = article.get_deferred_fields()
    assert "read_count" in deferred
    assert "title" not in deferred
    assert "nid" not in deferred
    with django_assert_num_queries(1):
        assert article.read_count == 30  # loaded on first access
    with django_assert_num_queries(0):
        assert article.read_count == 30
    assert "read_count" not in article.get_deferred_fields()


def test_raw_extra_columns_become_attributes(blogdata):
    rows = Blog.objects.raw(
        "SELECT b.nid, b.title, COUNT(a.nid) AS n FROM blog_blog b "
        "LEFT JOIN blog_article a ON a.blog_id = b.nid GROUP BY b.nid, b.title ORDER BY b.nid"
    )
    assert [(b.title, b.n) for b in rows] == [("Blog one", 5), ("Blog two", 3)]


def test_raw_can_read_another_table(blogdata):
    """Seed 001: columns of another table are put on the model's instances."""
    rows = Blog.objects.raw(
        "SELECT nid, title AS heading FROM blog_category WHERE blog_id = %s ORDER BY nid",
        [blogdata.b1],
    )
    got = [(b.pk, b.heading) for b in rows]
    assert got == [(blogdata.c1a, "c1a"), (blogdata.c1b, "c1b")]


def test_raw_without_primary_key_fails(blogdata):
    with pytest.raises(FieldDoesNotExist, match="primary key"):
        list(Article.objects.raw("SELECT title FROM blog_article"))


def test_raw_returns_the_live_instance(blogdata):
    require_mapped(Article)
    live = Article.objects.get(pk=blogdata.a1)
    (row,) = Article.objects.raw("SELECT * FROM blog_article WHERE nid = %s", [blogdata.a1])
    assert row is live
