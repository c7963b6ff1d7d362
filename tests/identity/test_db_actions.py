"""Rows the database changes itself (ON DELETE SET NULL), seen through the identity map."""

from __future__ import annotations

import pytest

from blog.models import Article, Blog, Category, UserInfo

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def article():
    user = UserInfo.objects.create(username="u")
    blog = Blog.objects.create(title="b", site="s", theme="t", user=user)
    category = Category.objects.create(title="c", blog=blog)
    art = Article.objects.create(
        title="x", desc="d", blog=blog, category=category, create_time="2026-01-02"
    )
    return art


def test_database_set_null_reaches_the_mapped_instance(article):
    article.desc = "unsaved"
    category = article.category
    category.delete()  # the database sets article.category_id to NULL
    assert Article.objects.get(pk=article.pk) is article
    assert article.category_id is None and article.category is None
    assert article.desc == "unsaved"


def test_the_event_carries_the_row_the_database_wrote(article):
    from rowsync.events.signals import post_db_update

    seen = []

    def receiver(sender, instance, changes, **kwargs):
        seen.append((instance.category_id, instance.desc, changes))

    post_db_update.connect(receiver, sender=Article)
    try:
        article.desc = "unsaved"
        article.category.delete()
    finally:
        post_db_update.disconnect(receiver, sender=Article)
    assert seen == [(None, "d", {"category_id": None})]
    assert article.category_id is None and article.desc == "unsaved"
