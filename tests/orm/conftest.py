"""Fixtures for the ORM parity tests: a small blog whose ids (not instances) the tests get.

The fixture hands out primary keys only and collects garbage afterwards, so that no model
instance stays alive between set-up and test: with the identity map on, a live instance
could otherwise answer a query from the map and change the query counts Django promises.
"""

from __future__ import annotations

import datetime
import gc
from types import SimpleNamespace

import pytest

from blog.models import (
    Article,
    Article2Tag,
    ArticleDetail,
    Blog,
    Category,
    Comment,
    Tag,
    UserFans,
    UserInfo,
)

DAY = datetime.date(2026, 1, 1)


@pytest.fixture
def blogdata(db: None) -> SimpleNamespace:
    """Create the blog of :func:`create_blog` and leave no instance of it alive."""
    ids = create_blog()
    # The FK caches make reference cycles: collect them before the test runs.
    gc.collect()
    return ids


def create_blog() -> SimpleNamespace:
    """Create two blogs (five and three articles) and return their primary keys.

    Blog ``b1`` (user ``u1``) has categories ``c1a``/``c1b``, tags ``t1a``/``t1b`` and
    articles ``a1``..``a5`` (``a5`` has no category, ``a4`` no detail; read counts 10..50);
    blog ``b2`` (user ``u2``) has category ``c2a``, tag ``t2a`` and articles ``b2a1``..``b2a3``.
    ``u3`` has no blog and follows ``u1``; ``u2`` follows ``u1``. ``a1`` has a comment with a
    reply.
    """
    ids = SimpleNamespace()
    u1 = UserInfo.objects.create(username="u1", nickname="User 1")
    u2 = UserInfo.objects.create(username="u2", nickname="User 2")
    u3 = UserInfo.objects.create(username="u3", nickname="User 3")
    b1 = Blog.objects.create(title="Blog one", site="one", theme="plain", user=u1)
    b2 = Blog.objects.create(title="Blog two", site="two", theme="dark", user=u2)
    c1a = Category.objects.create(title="c1a", blog=b1)
    c1b = Category.objects.create(title="c1b", blog=b1)
    c2a = Category.objects.create(title="c2a", blog=b2)
    t1a = Tag.objects.create(title="t1a", blog=b1)
    t1b = Tag.objects.create(title="t1b", blog=b1)
    t2a = Tag.objects.create(title="t2a", blog=b2)
    cats = [c1a, c1b, c1a, c1b, None]
    b1_articles = [
        Article.objects.create(
            title=f"a{i}",
            desc=f"desc a{i}",
            read_count=10 * i,
            up_count=i,
            category=cats[i - 1],
            create_time=DAY + datetime.timedelta(days=i),
            blog=b1,
        )
        for i in range(1, 6)
    ]
    b2_articles = [
        Article.objects.create(
            title=f"b2a{i}",
            desc=f"desc b2a{i}",
            read_count=5 * i,
            category=c2a,
            create_time=DAY + datetime.timedelta(days=10 + i),
            blog=b2,
        )
        for i in range(1, 4)
    ]
    for art in b1_articles + b2_articles:
        if art.title != "a4":
            ArticleDetail.objects.create(content=f"content of {art.title}", article=art)
    a1, a2, a3 = b1_articles[:3]
    for art, tag in [(a1, t1a), (a1, t1b), (a2, t1a), (a3, t1b), (b2_articles[0], t2a)]:
        Article2Tag.objects.create(article=art, tag=tag)
    top = Comment.objects.create(article=a1, content="first", user=u2)
    reply = Comment.objects.create(article=a1, content="reply", user=u1, parent_comment=top)
    UserFans.objects.create(user=u1, follower=u2)
    UserFans.objects.create(user=u1, follower=u3)

    for name, obj in [
        ("u1", u1), ("u2", u2), ("u3", u3), ("b1", b1), ("b2", b2),
        ("c1a", c1a), ("c1b", c1b), ("c2a", c2a), ("t1a", t1a), ("t1b", t1b), ("t2a", t2a),
        ("comment", top), ("reply", reply),
    ]:  # fmt: skip
        setattr(ids, name, obj.pk)
    for art in b1_articles + b2_articles:
        setattr(ids, art.title, art.pk)
    ids.b1_articles = [a.pk for a in b1_articles]
    ids.b2_articles = [a.pk for a in b2_articles]
    ids.articles = ids.b1_articles + ids.b2_articles
    return ids
