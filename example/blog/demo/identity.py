"""Demo section: the identity map on the blog (``ROWSYNC_IDENTITY_MAP = ["blog"]``)."""

from __future__ import annotations

import threading
import time

from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

import rowsync
from blog.demo.report import Report
from blog.models import Article, Blog
from rowsync import identity

TITLE = "Identity map"


class _Rollback(Exception):
    pass


def _time_per_call(func: object, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        func()  # type: ignore[operator]
    return (time.perf_counter() - start) / n * 1e6


def run(report: Report) -> None:
    if not identity.is_mapped(Article):
        report.line("the blog is not in ROWSYNC_IDENTITY_MAP: section skipped")
        return
    rowsync.flush()
    first_pk = Article.objects.order_by("nid").values_list("nid", flat=True)[0]

    with CaptureQueriesContext(connection) as q:
        article = Article.objects.get(pk=first_pk)
    cold = len(q)
    with CaptureQueriesContext(connection) as q:
        again = Article.objects.get(pk=first_pk)
        blog = again.blog
        same_blog = Blog.objects.get(pk=blog.pk)
    report.line(f"Article.objects.get(pk={first_pk}): {cold} query the first time")
    report.check(again is article and len(q) == 1, "the second get(pk) is the same object, 0 SQL")
    report.check(same_blog is blog, "article.blog and Blog.objects.get(pk) are one object")

    n = 2000
    with rowsync.identity_scope():
        held = Article.objects.get(pk=first_pk)  # weak map: keep the instance alive
        mapped_us = _time_per_call(lambda: Article.objects.get(pk=first_pk), n)
        del held

    def cold_get() -> None:
        # A fresh scope per call: every get() runs its SQL.
        with rowsync.identity_scope():
            Article.objects.get(pk=first_pk)

    sql_us = _time_per_call(cold_get, 300)
    report.table(
        ["get(pk)", "µs per call"],
        [["answered by the map", f"{mapped_us:.1f}"], ["with SQL", f"{sql_us:.1f}"]],
    )
    report.check(mapped_us * 5 < sql_us, f"map hit {sql_us / mapped_us:.0f}x faster than SQL")

    articles = list(Article.objects.filter(blog=blog).select_related("blog"))
    report.check(
        all(a.blog is blog for a in articles) and article in articles,
        f"one instance per row: {len(articles)} articles of one blog share its Blog object",
    )
    hit = [a for a in articles if a.pk == article.pk]
    report.check(bool(hit) and hit[0] is article, "a re-query returns the mapped instance")

    # Isolation: a half-edited object in this request is invisible to another thread.
    article.title = "half-edited, not saved"
    seen: dict[str, object] = {}

    def other_request() -> None:
        try:
            other = Article.objects.get(pk=first_pk)
            seen["title"] = other.title
            seen["same"] = other is article
        finally:
            connections.close_all()

    t = threading.Thread(target=other_request)
    t.start()
    t.join()
    report.check(
        seen.get("same") is False and seen.get("title") != article.title,
        "another thread has its own map: it does not see the unsaved edit",
    )
    article.refresh_from_db()

    # Rollback safety: nothing created or changed in a rolled-back block stays mapped.
    created: list[Article] = []
    try:
        with transaction.atomic():
            article.title = "rolled back"
            article.save()
            created.append(
                Article.objects.create(
                    title="phantom",
                    desc="",
                    blog=blog,
                    create_time=article.create_time,
                )
            )
            raise _Rollback
    except _Rollback:
        pass
    title = Article.objects.get(pk=first_pk).title
    report.check(title != "rolled back", f"after rollback get(pk) shows {title!r}")
    report.check(
        not Article.objects.filter(pk=created[0].pk).exists()
        and identity.get_cached(Article, created[0].pk) is None,
        "the object created in the rolled-back block is not in the map",
    )

    # Freshness: update() expires the written fields of mapped instances.
    fresh = Article.objects.get(pk=first_pk)
    before = fresh.read_count
    Article.objects.filter(pk=first_pk).update(read_count=before + 1)
    report.check(
        Article.objects.get(pk=first_pk) is fresh and fresh.read_count == before + 1,
        "after QuerySet.update() the mapped instance shows the new value",
    )
    rowsync.flush()
