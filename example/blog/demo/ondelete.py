"""Demo: the database enforces the blog's on_delete rules (rowsync's DB_* values).

* Deleting a blog: Django sends one ``DELETE`` for the blog; the database removes its
  categories, tags, articles, details, comments, replies and votes, and ``delete()``
  still reports every row.
* A user who owns a blog is protected: ``delete()`` raises Django's ``ProtectedError``
  naming the blog.
* Raw SQL obeys the same rules: the database refuses to delete that user and cascades
  a blog's rows.
"""

from __future__ import annotations

from django.db import DatabaseError, connection, transaction
from django.db.models import ProtectedError
from django.test.utils import CaptureQueriesContext

from blog.demo.report import Report
from blog.models import Article, Blog, Comment, UserInfo

TITLE = "on_delete enforced by the database"


def _blog_rows(blog: Blog) -> int:
    articles = Article.objects.filter(blog=blog)
    return (
        1
        + blog.category_set.count()
        + blog.tag_set.count()
        + articles.count()
        + Comment.objects.filter(article__in=articles).count()
    )


def run(report: Report) -> None:
    blogs = list(Blog.objects.order_by("-nid")[:2])
    if len(blogs) < 2:
        report.check(False, "the data set has two blogs")
        return
    blog, other = blogs
    before = _blog_rows(blog)
    with CaptureQueriesContext(connection) as queries:
        count, per_model = blog.delete()
    # Only the blog's tables: the events section's delivery deletes its own event rows
    # (rowsync_* tables).
    deletes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("DELETE")
        and "blog_" in q["sql"].split("WHERE")[0]
        and "rowsync_" not in q["sql"].split("WHERE")[0]
    ]
    report.line(f"blog.delete() -> {count} rows: {dict(sorted(per_model.items()))}")
    report.line(f"Django sent {len(deletes)} DELETE statement(s): {deletes[0][:70]}...")
    report.check(len(deletes) == 1, "one DELETE: the database cascaded the rest")
    report.check(count >= before, f"delete() counts the rows the database removed ({before}+)")
    report.check(
        not Article.objects.filter(blog_id=blog.nid).exists(), "the blog's articles are gone"
    )

    owner = UserInfo.objects.get(pk=other.user_id)
    try:
        owner.delete()
    except ProtectedError as error:
        blockers = sorted(str(obj) for obj in error.protected_objects)
        report.check(True, f"deleting {owner} raises ProtectedError naming {blockers}")
    else:
        report.check(False, "deleting a blog's owner raises ProtectedError")
    report.check(UserInfo.objects.filter(pk=owner.pk).exists(), "the owner is still there")

    table = connection.ops.quote_name(UserInfo._meta.db_table)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE nid = %s", [owner.pk])
    except DatabaseError as error:
        report.check(True, f"raw SQL DELETE of the owner refused: {str(error)[:60]}...")
    else:
        report.check(False, "raw SQL DELETE of the owner is refused")

    articles = Article.objects.filter(blog=other).count()
    with connection.cursor() as cursor:
        blog_table = connection.ops.quote_name(Blog._meta.db_table)
        cursor.execute(f"DELETE FROM {blog_table} WHERE nid = %s", [other.nid])
    report.check(
        not Article.objects.filter(blog_id=other.nid).exists(),
        f"raw SQL DELETE of a blog cascaded its {articles} articles in the database",
    )
