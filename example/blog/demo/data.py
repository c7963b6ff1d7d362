"""Generate the demo's data set: users, blogs, categories, tags, articles, comments, votes."""

from __future__ import annotations

import datetime
import random

from django.db import transaction

from blog.demo.report import Report
from blog.models import (
    Article,
    Article2Tag,
    ArticleDetail,
    ArticleUpDown,
    Blog,
    Category,
    Comment,
    CommentUp,
    Tag,
    UserFans,
    UserInfo,
)

TITLE = "Data set"


def generate(users: int = 40, articles_per_blog: int = 50, seed: int = 2026) -> dict[str, int]:
    """Fill an empty database with a blog for every user; return the row counts."""
    rng = random.Random(seed)
    with transaction.atomic():
        people = UserInfo.objects.bulk_create(
            UserInfo(username=f"user{i}", nickname=f"User {i}", telephone=f"{13800000000 + i}")
            for i in range(users)
        )
        people = list(UserInfo.objects.order_by("nid"))
        UserFans.objects.bulk_create(
            UserFans(user=u, follower=f)
            for u in people
            for f in rng.sample(people, 5)
            if f.pk != u.pk
        )
        blogs = Blog.objects.bulk_create(
            Blog(title=f"{u.nickname}'s blog", site=f"site{u.pk}", theme="plain", user=u)
            for u in people
        )
        blogs = list(Blog.objects.order_by("nid"))
        Category.objects.bulk_create(
            Category(title=f"cat{c}", blog=b) for b in blogs for c in range(3)
        )
        Tag.objects.bulk_create(Tag(title=f"tag{t}", blog=b) for b in blogs for t in range(4))
        cats: dict[int, list[Category]] = {}
        for c in Category.objects.all():
            cats.setdefault(c.blog_id, []).append(c)
        tags: dict[int, list[Tag]] = {}
        for t in Tag.objects.all():
            tags.setdefault(t.blog_id, []).append(t)
        day = datetime.date(2026, 1, 1)
        Article.objects.bulk_create(
            Article(
                title=f"post {i} of {b.site}",
                desc="a post",
                blog=b,
                category=rng.choice(cats[b.pk]),
                create_time=day + datetime.timedelta(days=i),
            )
            for b in blogs
            for i in range(articles_per_blog)
        )
        arts = list(Article.objects.order_by("nid"))
        ArticleDetail.objects.bulk_create(
            ArticleDetail(content="text " * 20, article=a) for a in arts
        )
        Article2Tag.objects.bulk_create(
            Article2Tag(article=a, tag=t) for a in arts for t in rng.sample(tags[a.blog_id], 2)
        )
        Comment.objects.bulk_create(
            Comment(article=a, content="nice", user=rng.choice(people))
            for a in arts
            for _ in range(2)
        )
        firsts = list(Comment.objects.order_by("nid")[: len(arts)])
        Comment.objects.bulk_create(
            Comment(
                article_id=c.article_id, content="reply", user=rng.choice(people), parent_comment=c
            )
            for c in firsts
        )
        ArticleUpDown.objects.bulk_create(
            ArticleUpDown(article=a, user=u, is_up=rng.random() < 0.8)
            for a in arts
            for u in rng.sample(people, 2)
        )
        CommentUp.objects.bulk_create(
            CommentUp(comment=c, user=rng.choice(people)) for c in firsts
        )
    return counts()


def counts() -> dict[str, int]:
    models = [
        UserInfo,
        UserFans,
        Blog,
        Category,
        Tag,
        Article,
        ArticleDetail,
        Article2Tag,
        Comment,
        ArticleUpDown,
        CommentUp,
    ]
    return {m.__name__: m._default_manager.count() for m in models}


def run(report: Report) -> None:
    if not UserInfo.objects.exists():
        generate()
    rows = counts()
    report.table(["model", "rows"], sorted(rows.items()))
    report.line(f"{sum(rows.values())} rows in all")
