"""``values()``/``values_list()``, ``annotate``/``aggregate`` and ``union``."""

from __future__ import annotations

from django.db.models import Avg, Case, Count, IntegerField, Max, Q, Sum, When

from blog.models import Article, Blog, Tag


def test_values_returns_dicts(blogdata):
    rows = list(Article.objects.filter(blog_id=blogdata.b2).order_by("pk").values("title"))
    assert rows == [{"title": "b2a1"}, {"title": "b2a2"}, {"title": "b2a3"}]
    row = Article.objects.values().get(pk=blogdata.a1)
    assert row["title"] == "a1"
    assert row["blog_id"] == blogdata.b1
    assert set(row) == {f.attname for f in Article._meta.concrete_fields}


def test_values_follow_relations(blogdata):
    row = Article.objects.values("title", "blog__site", "category__title").get(pk=blogdata.a5)
    assert row == {"title": "a5", "blog__site": "one", "category__title": None}


def test_values_list_flat_and_named(blogdata):
    qs = Article.objects.filter(blog_id=blogdata.b2).order_by("pk")
    assert list(qs.values_list("title", "read_count")) == [
        ("b2a1", 5),
        ("b2a2", 10),
        ("b2a3", 15),
    ]
    assert list(qs.values_list("title", flat=True)) == ["b2a1", "b2a2", "b2a3"]
    named = qs.values_list("title", "read_count", named=True).get(pk=blogdata.b2a2)
    assert (named.title, named.read_count) == ("b2a2", 10)
    assert qs.values_list("pk", flat=True).get(pk=blogdata.b2a3) == blogdata.b2a3


def test_values_get_returns_dicts_even_for_loaded_rows(blogdata, django_assert_num_queries):
    live = Article.objects.get(pk=blogdata.a1)
    with django_assert_num_queries(3):
        assert Article.objects.values("title").get(pk=live.pk) == {"title": "a1"}
        assert Article.objects.values_list("title", "read_count").get(pk=live.pk) == ("a1", 10)
        assert Article.objects.values_list("title", flat=True).get(pk=live.pk) == "a1"


def test_aggregate(blogdata, django_assert_num_queries):
    with django_assert_num_queries(1):
        result = Article.objects.filter(blog_id=blogdata.b1).aggregate(
            total=Sum("read_count"), top=Max("read_count"), n=Count("nid"), avg=Avg("up_count")
        )
    assert result == {"total": 150, "top": 50, "n": 5, "avg": 3}
    assert Article.objects.filter(title="none").aggregate(total=Sum("read_count")) == {
        "total": None
    }


def test_annotate_per_row_and_group_by(blogdata):
    blogs = Blog.objects.annotate(n=Count("article"), reads=Sum("article__read_count"))
    assert {(b.site, b.n, b.reads) for b in blogs} == {("one", 5, 150), ("two", 3, 30)}
    per_blog = Article.objects.values("blog__site").annotate(n=Count("nid")).order_by("blog__site")
    assert list(per_blog) == [{"blog__site": "one", "n": 5}, {"blog__site": "two", "n": 3}]


def test_annotate_conditional_count(blogdata):
    blogs = Blog.objects.annotate(
        popular=Count(
            Case(When(article__read_count__gte=30, then=1), output_field=IntegerField())
        ),
        tagged=Count("article", filter=Q(article__tags__isnull=False), distinct=True),
    ).order_by("pk")
    assert [(b.popular, b.tagged) for b in blogs] == [(3, 3), (0, 1)]


def test_annotations_are_per_queryset(blogdata):
    """An annotation belongs to the rows of the QuerySet that computed it."""
    first = Article.objects.annotate(n=Count("tags")).get(pk=blogdata.a1)
    second = Article.objects.annotate(n=Count("comment")).get(pk=blogdata.a1)
    assert first.n == 2
    assert second.n == 2
    third = Article.objects.annotate(n=Count("articleupdown")).get(pk=blogdata.a1)
    assert (first.n, third.n) == (2, 0)
    plain = Article.objects.get(pk=blogdata.a1)
    assert plain.title == "a1"


def test_union(blogdata):
    popular = Article.objects.filter(read_count__gte=40)
    second_blog = Article.objects.filter(blog_id=blogdata.b2)
    both = popular.union(second_blog).order_by("title")
    assert [a.title for a in both] == ["a4", "a5", "b2a1", "b2a2", "b2a3"]
    assert popular.union(popular, all=True).count() == 4
    assert popular.union(popular).count() == 2


def test_union_of_values_lists_across_models(blogdata):
    titles = (
        Tag.objects.filter(blog_id=blogdata.b2)
        .values_list("title", flat=True)
        .union(Article.objects.filter(pk=blogdata.a1).values_list("title", flat=True))
    )
    assert sorted(titles) == ["a1", "t2a"]
