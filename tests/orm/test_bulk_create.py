"""``bulk_create``: one INSERT for many rows (seed 001, part 6)."""

from __future__ import annotations

import datetime

import pytest
from django.db import IntegrityError, connection, transaction

from blog.models import Article, Article2Tag, Tag
from tests.orm._identity import mapped


def new_tags(blog_id, n, prefix="bulk"):
    return [Tag(title=f"{prefix}{i}", blog_id=blog_id) for i in range(n)]


def test_one_insert_for_many_rows(blogdata, django_assert_num_queries):
    with django_assert_num_queries(1):
        Tag.objects.bulk_create(new_tags(blogdata.b1, 5))
    with django_assert_num_queries(5):
        for tag in new_tags(blogdata.b2, 5, "single"):
            tag.save()
    assert Tag.objects.filter(title__startswith="bulk").count() == 5


def test_batch_size_splits_the_insert(blogdata, django_assert_num_queries):
    with django_assert_num_queries(3):
        Tag.objects.bulk_create(new_tags(blogdata.b1, 5), batch_size=2)
    assert Tag.objects.filter(title__startswith="bulk").count() == 5


def test_returned_primary_keys_where_the_backend_returns_them(blogdata):
    created = Tag.objects.bulk_create(new_tags(blogdata.b1, 3))
    assert [t.title for t in created] == ["bulk0", "bulk1", "bulk2"]
    if connection.features.can_return_rows_from_bulk_insert:
        assert all(t.pk is not None for t in created)
        assert [Tag.objects.get(pk=t.pk).title for t in created] == ["bulk0", "bulk1", "bulk2"]
        assert all(not t._state.adding for t in created)
    else:
        assert all(t.pk is None for t in created)


def test_ignore_conflicts_skips_duplicates(blogdata):
    links = [
        Article2Tag(article_id=blogdata.a1, tag_id=blogdata.t1a),  # exists already
        Article2Tag(article_id=blogdata.a4, tag_id=blogdata.t1a),  # new
    ]
    created = Article2Tag.objects.bulk_create(links, ignore_conflicts=True)
    assert len(created) == 2
    assert all(link.pk is None for link in created)  # Django sets no pk with ignore_conflicts
    assert Article2Tag.objects.count() == 6
    with pytest.raises(IntegrityError), transaction.atomic():
        Article2Tag.objects.bulk_create([Article2Tag(article_id=blogdata.a1, tag_id=blogdata.t1a)])


def test_update_conflicts_upserts(blogdata):
    if not connection.features.supports_update_conflicts:
        pytest.skip("backend has no upsert")
    kwargs = {"update_conflicts": True, "update_fields": ["tag"]}
    if connection.features.supports_update_conflicts_with_target:
        kwargs["unique_fields"] = ["article", "tag"]
    Article2Tag.objects.bulk_create(
        [Article2Tag(article_id=blogdata.a1, tag_id=blogdata.t1a)], **kwargs
    )
    assert Article2Tag.objects.count() == 5


def test_bulk_created_rows_read_back(blogdata):
    day = datetime.date(2026, 3, 1)
    Article.objects.bulk_create(
        Article(title=f"bulk{i}", desc="", blog_id=blogdata.b2, create_time=day, read_count=i)
        for i in range(4)
    )
    rows = Article.objects.filter(title__startswith="bulk").order_by("read_count")
    assert [(a.title, a.read_count, a.create_time) for a in rows] == [
        (f"bulk{i}", i, day) for i in range(4)
    ]


def test_bulk_created_instances_are_the_mapped_ones(blogdata):
    """With returned pks, a later query finds the very instances bulk_create returned."""
    if not connection.features.can_return_rows_from_bulk_insert:
        pytest.skip("backend returns no pks from a bulk insert")
    created = Tag.objects.bulk_create(new_tags(blogdata.b1, 2))
    loaded = list(Tag.objects.filter(title__startswith="bulk").order_by("pk"))
    assert [t.pk for t in loaded] == [t.pk for t in created]
    if mapped(Tag):
        # Either the map registered the created instances, or it keeps none of them:
        # never two live instances with diverging values.
        for fresh, old in zip(loaded, created, strict=True):
            assert fresh is old or fresh.title == old.title
