"""``extra()``: select, where, params, tables, order_by (seed 001, part 4).

The SQL snippets stay in the dialect SQLite, PostgreSQL and MariaDB share: unquoted
lower-case names and ``%s`` placeholders.
"""

from __future__ import annotations

import datetime

from blog.models import Article, Blog


def test_extra_select_adds_an_attribute(blogdata):
    recent = Article.objects.extra(
        select={"is_recent": "create_time > %s"}, select_params=(datetime.date(2026, 1, 4),)
    ).order_by("pk")
    flags = {a.title: bool(a.is_recent) for a in recent}
    assert flags == {
        "a1": False,
        "a2": False,
        "a3": False,
        "a4": True,
        "a5": True,
        "b2a1": True,
        "b2a2": True,
        "b2a3": True,
    }


def test_extra_select_subquery_with_params(blogdata):
    rows = Article.objects.filter(blog_id=blogdata.b1).extra(
        select={"n": "SELECT COUNT(*) FROM blog_tag WHERE blog_tag.nid > %s", "one": "1"},
        select_params=[blogdata.t1a],
    )
    assert {(a.n, a.one) for a in rows} == {(2, 1)}


def test_extra_where_and_params(blogdata):
    rows = Article.objects.extra(
        where=["blog_article.nid IN (%s, %s) OR blog_article.title LIKE %s", "read_count > %s"],
        params=[blogdata.a1, blogdata.a3, "b2%", 10],
    )
    assert sorted(a.title for a in rows) == ["a3", "b2a3"]


def test_extra_where_combines_with_filter(blogdata):
    rows = Article.objects.filter(blog_id=blogdata.b1).extra(where=["up_count >= %s"], params=[4])
    assert sorted(a.title for a in rows) == ["a4", "a5"]


def test_extra_tables_join_by_hand(blogdata):
    rows = Article.objects.extra(
        tables=["blog_blog"],
        where=["blog_blog.nid = blog_article.blog_id", "blog_blog.site = %s"],
        params=["two"],
    )
    assert sorted(a.title for a in rows) == ["b2a1", "b2a2", "b2a3"]


def test_extra_order_by(blogdata):
    rows = Article.objects.extra(order_by=["-read_count"])
    assert [a.title for a in rows][:3] == ["a5", "a4", "a3"]
    rows = Article.objects.extra(select={"rank": "up_count * 2"}, order_by=["-rank", "nid"])
    assert [a.rank for a in rows][:2] == [10, 8]


def test_extra_with_values(blogdata):
    rows = (
        Article.objects.filter(pk=blogdata.a1)
        .extra(select={"doubled": "read_count * 2"})
        .values("doubled", "nid", "title")
    )
    assert list(rows) == [{"doubled": 20, "nid": blogdata.a1, "title": "a1"}]


def test_extra_everything_at_once(blogdata):
    rows = (
        Blog.objects.filter(nid__gt=0)
        .extra(
            select={
                "articles": "SELECT COUNT(*) FROM blog_article WHERE "
                "blog_article.blog_id = blog_blog.nid AND blog_article.read_count > %s"
            },
            select_params=[12],
            where=["blog_blog.theme <> %s"],
            params=["none"],
            tables=["blog_userinfo"],
            order_by=["-blog_blog.nid"],
        )
        .extra(where=["blog_userinfo.nid = blog_blog.user_id"])
    )
    assert [(b.site, b.articles) for b in rows] == [("two", 1), ("one", 4)]


def test_extra_attributes_are_per_queryset(blogdata):
    """An extra column belongs to the rows of the QuerySet that selected it."""
    first = Article.objects.extra(select={"mark": "1"}).get(pk=blogdata.a1)
    second = Article.objects.extra(select={"mark": "2"}).get(pk=blogdata.a1)
    assert (first.mark, second.mark) == (1, 2)
    third = Article.objects.get(pk=blogdata.a1)
    assert third.title == "a1"
