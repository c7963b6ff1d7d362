"""Single-row and keyed lookups: first/last/earliest/latest, in_bulk, get."""

from __future__ import annotations

import datetime

import pytest

from blog.models import Article, Blog
from tests.orm._identity import require_mapped


def test_first_and_last_order_by_pk_when_unordered(blogdata, django_assert_num_queries):
    with django_assert_num_queries(2):
        assert Article.objects.first().pk == min(blogdata.articles)
        assert Article.objects.last().pk == max(blogdata.articles)


def test_first_and_last_respect_ordering(blogdata):
    assert Article.objects.order_by("-read_count").first().title == "a5"
    assert Article.objects.order_by("-read_count").last().title == "b2a1"
    assert Article.objects.filter(title="nope").first() is None
    assert Article.objects.filter(title="nope").last() is None


def test_earliest_and_latest(blogdata):
    assert Article.objects.earliest("create_time").title == "a1"
    assert Article.objects.latest("create_time").title == "b2a3"
    assert Article.objects.filter(blog_id=blogdata.b1).latest("create_time", "pk").title == "a5"
    assert Article.objects.earliest("-read_count").title == "a5"
    with pytest.raises(Article.DoesNotExist):
        Article.objects.filter(create_time__lt=datetime.date(2000, 1, 1)).earliest("create_time")


def test_in_bulk_by_pk(blogdata, django_assert_num_queries):
    wanted = blogdata.articles[:3]
    with django_assert_num_queries(1):
        found = Article.objects.in_bulk(wanted)
    assert sorted(found) == sorted(wanted)
    assert all(found[pk].pk == pk for pk in wanted)
    with django_assert_num_queries(0):
        assert Article.objects.in_bulk([]) == {}


def test_in_bulk_by_unique_field_and_whole_table(blogdata):
    by_site = Blog.objects.in_bulk(["one", "two", "three"], field_name="site")
    assert sorted(by_site) == ["one", "two"]
    assert by_site["one"].pk == blogdata.b1
    assert len(Article.objects.in_bulk()) == 8
    assert sorted(Article.objects.filter(blog_id=blogdata.b2).in_bulk()) == blogdata.b2_articles


def test_in_bulk_rejects_non_unique_field(blogdata):
    with pytest.raises(ValueError, match="unique"):
        Article.objects.in_bulk(["a1"], field_name="title")


def test_get_variants(blogdata, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert Article.objects.get(pk=blogdata.a2).title == "a2"
    with pytest.raises(Article.DoesNotExist):
        Article.objects.get(pk=-1)
    with pytest.raises(Article.MultipleObjectsReturned):
        Article.objects.get(blog_id=blogdata.b1)
    # Other filters and a related manager's scope still apply to get(pk=...).
    with pytest.raises(Article.DoesNotExist):
        Article.objects.filter(title="a1").get(pk=blogdata.a2)
    blog2 = Blog.objects.get(pk=blogdata.b2)
    with pytest.raises(Article.DoesNotExist):
        blog2.article_set.get(pk=blogdata.a1)


def test_lookups_return_the_live_instance(blogdata):
    require_mapped(Article)
    live = Article.objects.get(pk=blogdata.a1)
    assert Article.objects.order_by("pk").first() is live
    assert Article.objects.earliest("create_time") is live
    assert Article.objects.in_bulk([blogdata.a1])[blogdata.a1] is live
