"""``defer()`` and ``only()``: load some columns now, the rest on access (seed 001, part 8)."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from blog.models import Article

ARTICLE_FIELDS = {f.attname for f in Article._meta.concrete_fields}


def test_only_loads_the_named_fields_and_the_pk(blogdata, django_assert_num_queries):
    with django_assert_num_queries(1):
        article = Article.objects.only("title").get(pk=blogdata.a2)
    assert article.get_deferred_fields() == ARTICLE_FIELDS - {"nid", "title"}
    with django_assert_num_queries(0):
        assert (article.pk, article.title) == (blogdata.a2, "a2")
    with django_assert_num_queries(1):  # each deferred field costs one query
        assert article.desc == "desc a2"
    with django_assert_num_queries(1):
        assert article.read_count == 20
    assert "desc" not in article.get_deferred_fields()


def test_defer_skips_the_named_fields(blogdata, django_assert_num_queries):
    with django_assert_num_queries(1):
        articles = list(Article.objects.defer("desc", "read_count").order_by("pk"))
    assert all(a.get_deferred_fields() == {"desc", "read_count"} for a in articles)
    with django_assert_num_queries(0):
        assert [a.title for a in articles][:2] == ["a1", "a2"]
        assert articles[0].up_count == 1
    with django_assert_num_queries(1):
        assert articles[0].desc == "desc a1"


def test_deferred_columns_are_not_selected(blogdata):
    with CaptureQueriesContext(connection) as ctx:
        list(Article.objects.only("title"))
    select_list = ctx.captured_queries[0]["sql"].lower().split(" from ")[0]
    assert "title" in select_list
    assert "read_count" not in select_list


def test_values_go_to_the_right_fields(blogdata):
    """Each loaded value lands in its own field, whatever subset is loaded."""
    full = Article.objects.get(pk=blogdata.a4)
    for qs in [
        Article.objects.only("read_count", "title"),
        Article.objects.defer("title"),
        Article.objects.defer("desc", "category", "create_time"),
        Article.objects.only("up_count", "blog"),
    ]:
        partial = qs.get(pk=blogdata.a4)
        for name in ARTICLE_FIELDS:
            assert getattr(partial, name) == getattr(full, name), (qs.query, name)


def test_chained_only_replaces_and_chained_defer_accumulates(blogdata):
    # One row per chain: each get() loads its own row (none is loaded twice).
    a = Article.objects.only("title").only("desc").get(pk=blogdata.a1)
    assert a.get_deferred_fields() == ARTICLE_FIELDS - {"nid", "desc"}
    b = Article.objects.defer("title").defer("desc").get(pk=blogdata.a2)
    assert b.get_deferred_fields() == {"title", "desc"}
    c = Article.objects.only("title", "desc").defer("desc").get(pk=blogdata.a3)
    assert c.get_deferred_fields() == ARTICLE_FIELDS - {"nid", "title"}
    d = Article.objects.defer("title").only("desc").get(pk=blogdata.a4)
    assert d.get_deferred_fields() == ARTICLE_FIELDS - {"nid", "desc"}
    e = Article.objects.defer("title").defer(None).get(pk=blogdata.a5)
    assert e.get_deferred_fields() == set()
    assert [x.desc for x in (a, b, c, d, e)] == [f"desc a{i}" for i in range(1, 6)]


def test_defer_with_select_related(blogdata, django_assert_num_queries):
    with django_assert_num_queries(1):
        article = (
            Article.objects.select_related("blog")
            .only("title", "blog__site")
            .get(pk=blogdata.b2a1)
        )
        assert (article.title, article.blog.site) == ("b2a1", "two")
    assert "theme" in article.blog.get_deferred_fields()
    with django_assert_num_queries(1):
        assert article.blog.theme == "dark"


def test_saving_a_deferred_instance_writes_only_loaded_fields(blogdata):
    article = Article.objects.only("title").get(pk=blogdata.a2)
    # Someone else changes a column this instance never loaded.
    Article.objects.filter(pk=blogdata.a2).update(desc="changed elsewhere", read_count=99)
    article.title = "renamed"
    with CaptureQueriesContext(connection) as ctx:
        article.save()
    updates = [q["sql"] for q in ctx.captured_queries if q["sql"].upper().startswith("UPDATE")]
    assert len(updates) == 1
    assert "desc" not in updates[0].lower().split(" where ")[0]
    row = Article.objects.values("title", "desc", "read_count").get(pk=blogdata.a2)
    assert row == {"title": "renamed", "desc": "changed elsewhere", "read_count": 99}


def test_saving_a_deferred_field_after_loading_it(blogdata):
    article = Article.objects.defer("desc").get(pk=blogdata.a3)
    article.desc = "set without loading"
    article.save()
    assert Article.objects.get(pk=blogdata.a3).desc == "set without loading"


def test_refresh_from_db_reloads_loaded_fields_only(blogdata, django_assert_num_queries):
    """Django reloads the non-deferred fields; deferred ones stay deferred."""
    article = Article.objects.only("title").get(pk=blogdata.a5)
    Article.objects.filter(pk=blogdata.a5).update(title="new title")
    with django_assert_num_queries(1):
        article.refresh_from_db()
    assert article.title == "new title"
    assert article.get_deferred_fields() == ARTICLE_FIELDS - {"nid", "title"}
    with django_assert_num_queries(1):
        assert article.desc == "desc a5"


def test_refresh_from_db_fields_leaves_other_fields_alone(blogdata):
    article = Article.objects.get(pk=blogdata.a4)
    Article.objects.filter(pk=blogdata.a4).update(read_count=7)
    article.title = "edited, not saved"
    article.refresh_from_db(fields=["read_count"])
    assert (article.title, article.read_count) == ("edited, not saved", 7)


def test_a_later_load_fills_deferred_fields(blogdata, django_assert_num_queries):
    partial = Article.objects.only("title").get(pk=blogdata.a1)
    (full,) = Article.objects.filter(pk=blogdata.a1)
    assert full.get_deferred_fields() == set()
    with django_assert_num_queries(0):
        assert (full.title, full.read_count, full.desc) == ("a1", 10, "desc a1")
    assert partial.title == "a1"
    again = Article.objects.get(pk=blogdata.a1)
    assert (again.title, again.read_count, again.desc) == ("a1", 10, "desc a1")
