"""``prefetch_related`` loads many-valued relations with one query each (seed 001, 3.3)."""

from __future__ import annotations

from django.db.models import Prefetch

from blog.models import Article, Blog, Category, Comment, Tag, UserInfo
from tests.orm._identity import require_mapped


def test_without_prefetch_every_article_queries_its_tags(blogdata, django_assert_num_queries):
    with django_assert_num_queries(1 + 8):
        for article in Article.objects.all():
            list(article.tags.all())


def test_prefetch_m2m_takes_two_queries(blogdata, django_assert_num_queries):
    with django_assert_num_queries(2):
        tags = {
            a.title: sorted(t.title for t in a.tags.all())
            for a in Article.objects.prefetch_related("tags")
        }
    assert tags["a1"] == ["t1a", "t1b"]
    assert tags["a4"] == []
    assert tags["b2a1"] == ["t2a"]


def test_prefetch_reverse_fk_and_several_lookups(blogdata, django_assert_num_queries):
    with django_assert_num_queries(3):
        blogs = list(Blog.objects.order_by("pk").prefetch_related("article_set", "tag_set"))
        assert [len(b.article_set.all()) for b in blogs] == [5, 3]
        assert [len(b.tag_set.all()) for b in blogs] == [2, 1]


def test_nested_prefetch(blogdata, django_assert_num_queries):
    with django_assert_num_queries(3):
        blog = Blog.objects.prefetch_related("article_set__comment_set").get(pk=blogdata.b1)
        counts = {a.title: len(a.comment_set.all()) for a in blog.article_set.all()}
    assert counts == {"a1": 2, "a2": 0, "a3": 0, "a4": 0, "a5": 0}


def test_filtering_after_prefetch_runs_a_new_query(blogdata, django_assert_num_queries):
    blog = Blog.objects.prefetch_related("article_set").get(pk=blogdata.b1)
    with django_assert_num_queries(1):
        assert blog.article_set.filter(read_count__gt=30).count() == 2
    with django_assert_num_queries(0):
        assert len(blog.article_set.all()) == 5


def test_prefetch_object_with_filtered_queryset(blogdata, django_assert_num_queries):
    popular = Article.objects.filter(read_count__gte=30).order_by("-read_count")
    with django_assert_num_queries(2):
        blogs = list(
            Blog.objects.order_by("pk").prefetch_related(Prefetch("article_set", popular))
        )
        assert [a.title for a in blogs[0].article_set.all()] == ["a5", "a4", "a3"]
        assert [a.title for a in blogs[1].article_set.all()] == []


def test_prefetch_to_attr_leaves_the_manager_alone(blogdata, django_assert_num_queries):
    popular = Article.objects.filter(read_count__gte=30).order_by("pk")
    with django_assert_num_queries(2):
        blog = Blog.objects.prefetch_related(
            Prefetch("article_set", queryset=popular, to_attr="popular")
        ).get(pk=blogdata.b1)
        assert isinstance(blog.popular, list)
        assert [a.title for a in blog.popular] == ["a3", "a4", "a5"]
    with django_assert_num_queries(1):  # the manager was not prefetched
        assert len(blog.article_set.all()) == 5


def test_filtered_prefetch_does_not_leak_into_a_later_queryset(blogdata):
    """Each QuerySet gets its own prefetch result, even for the same rows."""
    popular = Article.objects.filter(read_count__gte=30)
    first = Blog.objects.prefetch_related(Prefetch("article_set", popular)).get(pk=blogdata.b1)
    assert len(first.article_set.all()) == 3
    second = Blog.objects.prefetch_related("article_set").get(pk=blogdata.b1)
    assert len(second.article_set.all()) == 5
    third = Blog.objects.get(pk=blogdata.b1)
    assert third.article_set.count() == 5


def test_prefetch_through_select_related_queryset(blogdata, django_assert_num_queries):
    with django_assert_num_queries(2):
        cats = list(
            Category.objects.filter(blog_id=blogdata.b1)
            .order_by("pk")
            .prefetch_related(Prefetch("article_set", Article.objects.select_related("blog")))
        )
        sites = {a.blog.site for c in cats for a in c.article_set.all()}
    assert sites == {"one"}


def test_prefetch_forward_fk_and_self_m2m(blogdata, django_assert_num_queries):
    with django_assert_num_queries(2):
        comments = list(Comment.objects.order_by("pk").prefetch_related("user"))
        assert [c.user.username for c in comments] == ["u2", "u1"]
    with django_assert_num_queries(2):
        users = list(UserInfo.objects.order_by("pk").prefetch_related("fans"))
        assert [sorted(f.username for f in u.fans.all()) for u in users] == [
            ["u2", "u3"],
            [],
            [],
        ]


def test_prefetched_reverse_fk_rows_are_the_live_instances(blogdata):
    require_mapped(Article)
    live = Article.objects.get(pk=blogdata.a2)
    blog = Blog.objects.prefetch_related("article_set").get(pk=blogdata.b1)
    assert any(a is live for a in blog.article_set.all())


def test_prefetched_m2m_rows_are_the_live_instances(blogdata):
    require_mapped(Tag)
    live = Tag.objects.get(pk=blogdata.t1a)
    article = Article.objects.prefetch_related("tags").get(pk=blogdata.a1)
    assert any(t is live for t in article.tags.all())
