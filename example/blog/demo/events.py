"""Demo: post_delete receivers keep working when the database deletes the rows.

Deleting a blog removes its articles (a database cascade when the blog's foreign keys
are enforced by the database), and the receivers of ``blog/receivers.py`` still delete
each article's uploaded file, invalidate its cached page and write an audit line. A raw
SQL ``DELETE`` run from a second connection is recorded too and delivered by
``manage.py rowsync worker --drain``.
"""

from __future__ import annotations

import datetime
import importlib.util
import io
import json
from typing import Any

from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from blog import receivers
from blog.demo.report import Report
from blog.models import Article, Blog
from rowsync.events.claim import pending_count
from rowsync.events.context import actor_context

TITLE = "post_delete for rows the database deletes"


def _prepare(article: Article) -> None:
    article.attachment.save(f"a{article.pk}.txt", ContentFile(b"attachment"), save=True)
    cache.set(receivers.article_cache_key(article.pk), "<html>", 600)


def _pending() -> int:
    # Events wait in the event table or, on SQLite and PostgreSQL, in the inboxes.
    return pending_count("default")


def run(report: Report) -> None:
    blog = Blog.objects.order_by("nid").first()
    if blog is None:
        report.check(False, "the data set has a blog")
        return
    articles = list(Article.objects.filter(blog=blog).order_by("nid")[:5])
    for article in articles:
        _prepare(article)
    files = [a.attachment.name for a in articles]
    storage = articles[0].attachment.storage
    total = Article.objects.filter(blog=blog).count()
    receivers.AUDIT_LINES.clear()
    report.line(f"deleting blog {blog.site!r} with {total} articles ({len(files)} with files)")
    with actor_context(user="demo-admin"):
        blog.delete()
    by_rowsync = sum(1 for line in receivers.AUDIT_LINES if "actor demo-admin" in line)
    report.line(
        f"post_delete for articles: {len(receivers.AUDIT_LINES)} "
        f"({by_rowsync} sent by rowsync from captured rows, "
        f"{len(receivers.AUDIT_LINES) - by_rowsync} by Django's collector)"
    )
    report.check(not Article.objects.filter(blog_id=blog.nid).exists(), "the articles are gone")
    report.check(
        not any(storage.exists(name) for name in files), "every uploaded file was removed"
    )
    report.check(
        all(cache.get(receivers.article_cache_key(a.pk)) is None for a in articles),
        "every cached article page was invalidated",
    )
    report.check(len(receivers.AUDIT_LINES) == total, f"{total} audit lines were written")
    report.check(_pending() == 0, "no event is left pending")
    if receivers.AUDIT_LINES:
        report.line(f"audit: {receivers.AUDIT_LINES[0]}")

    # A raw SQL delete from a second connection (another program): recorded by the
    # trigger, delivered by the worker.
    other = Blog.objects.order_by("nid").first()
    assert other is not None
    article = Article.objects.create(
        title="raw", desc="deleted by raw SQL", blog=other, create_time=datetime.date.today()
    )
    _prepare(article)
    receivers.AUDIT_LINES.clear()
    second = connections.create_connection("default")
    try:
        with second.cursor() as cursor:
            table = second.ops.quote_name(Article._meta.db_table)
            cursor.execute(f"DELETE FROM {table} WHERE nid = %s", [article.pk])
        if not second.get_autocommit():
            second.commit()
    finally:
        second.close()
    report.check(_pending() == 1, "the raw SQL delete from another connection was recorded")
    if importlib.util.find_spec("rowsync.events.worker") is None:
        report.line("(the worker is not installed; the event stays pending)")
        return
    code, status = _status("--max-pending", "0")
    report.line(f"manage.py rowsync status --json, pending: {status['pending']['by_model']}")
    report.check(code == 3, "rowsync status --max-pending 0 exits 3 (a health check fails)")
    call_command("rowsync", "worker", "--drain", verbosity=0)
    report.check(_pending() == 0, "manage.py rowsync worker --drain delivered it")
    report.check(not storage.exists(article.attachment.name), "its uploaded file was removed")
    report.check(len(receivers.AUDIT_LINES) == 1, "and its audit line was written")
    code, status = _status("--max-pending", "0")
    report.check(
        code == 0 and status["pending"]["total"] == 0, "rowsync status: nothing pending, exit 0"
    )


def _status(*args: str) -> tuple[int, dict[str, Any]]:
    """Run ``manage.py rowsync status --json`` with ``args``: (exit status, document)."""
    out = io.StringIO()
    try:
        call_command("rowsync", "status", "--json", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, json.loads(out.getvalue())
    return 0, json.loads(out.getvalue())
