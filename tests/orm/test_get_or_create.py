"""``get_or_create`` and ``update_or_create``."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from blog.models import Article, Category, Tag


def test_get_or_create_gets_an_existing_row(blogdata, django_assert_num_queries):
    with django_assert_num_queries(1):
        tag, created = Tag.objects.get_or_create(title="t1a", blog_id=blogdata.b1)
    assert (tag.pk, created) == (blogdata.t1a, False)


def test_get_or_create_creates_with_defaults(blogdata):
    cat, created = Category.objects.get_or_create(
        title="new", blog_id=blogdata.b2, defaults={"title": "from defaults"}
    )
    assert created
    assert cat.title == "from defaults"  # on create, defaults win over the lookup
    article, created = Article.objects.get_or_create(
        title="made",
        defaults={
            "desc": "by default",
            "blog_id": blogdata.b2,
            "create_time": datetime.date.today(),
        },
    )
    assert created
    assert Article.objects.values_list("desc", flat=True).get(pk=article.pk) == "by default"
    again, created = Article.objects.get_or_create(title="made", defaults={"desc": "other"})
    assert (again.pk, created, again.desc) == (article.pk, False, "by default")


def test_get_or_create_through_a_related_manager(blogdata):
    from blog.models import Blog

    blog = Blog.objects.get(pk=blogdata.b2)
    tag, created = blog.tag_set.get_or_create(title="t1a")  # exists, but on the other blog
    assert created
    assert tag.blog_id == blogdata.b2
    assert Tag.objects.filter(title="t1a").count() == 2


def test_get_or_create_multiple_rows_raises(blogdata):
    with pytest.raises(Article.MultipleObjectsReturned):
        Article.objects.get_or_create(blog_id=blogdata.b1)


def test_update_or_create_updates_the_row(blogdata):
    live = Article.objects.get(pk=blogdata.a2)
    with CaptureQueriesContext(connection) as ctx:
        article, created = Article.objects.update_or_create(
            pk=blogdata.a2, defaults={"title": "updated", "read_count": 1}
        )
    assert not created
    assert article.pk == live.pk
    assert (article.title, article.read_count) == ("updated", 1)
    row = Article.objects.values("title", "read_count").get(pk=blogdata.a2)
    assert row == {"title": "updated", "read_count": 1}
    sqls = [q["sql"].upper() for q in ctx.captured_queries]
    selects = [s for s in sqls if s.startswith("SELECT")]
    assert len(selects) == 1  # the row is read (and locked) even though it was loaded
    if connection.features.has_select_for_update:
        assert "FOR UPDATE" in selects[0]
    assert any(s.startswith("UPDATE") for s in sqls)


def test_update_or_create_creates_and_create_defaults(blogdata):
    tag, created = Tag.objects.update_or_create(
        title="fresh",
        blog_id=blogdata.b1,
        defaults={"title": "fresh-updated"},
        create_defaults={"title": "fresh-created"},
    )
    assert created
    assert tag.title == "fresh-created"
    tag, created = Tag.objects.update_or_create(
        title="fresh-created",
        blog_id=blogdata.b1,
        defaults={"title": "fresh-updated"},
        create_defaults={"title": "not used"},
    )
    assert not created
    assert Tag.objects.get(pk=tag.pk).title == "fresh-updated"
