"""post_delete receivers of the demo: the kind of code seed 000 describes.

They are plain Django receivers. With rowsync they keep running when the database,
not Django, deletes the rows (a database cascade, raw SQL, another program).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import cache
from django.db.models.signals import post_delete

from blog.models import Article

audit = logging.getLogger("blog.audit")

#: Lines written by :func:`audit_article` (the demo reads them back).
AUDIT_LINES: list[str] = []


def article_cache_key(pk: Any) -> str:
    """Return the cache key of an article's rendered page."""
    return f"blog:article:{pk}"


def delete_attachment(sender: type[Article], instance: Article, **kwargs: Any) -> None:
    """Remove the article's uploaded file from storage (what django-cleanup does)."""
    if "attachment" in instance.get_deferred_fields() or not instance.attachment:
        return
    instance.attachment.storage.delete(instance.attachment.name)


def invalidate_cache(sender: type[Article], instance: Article, **kwargs: Any) -> None:
    """Drop the cached page of the article."""
    cache.delete(article_cache_key(instance.pk))


def audit_article(sender: type[Article], instance: Article, **kwargs: Any) -> None:
    """Write an audit line: who deleted what, and through which delete."""
    ctx = getattr(instance, "_rowsync_context", None) or {}
    origin = kwargs.get("origin")
    line = (
        f"deleted article {instance.pk} {instance.title!r} of blog {instance.blog_id} "
        f"(origin {type(origin).__name__}, actor {ctx.get('user', '-')})"
    )
    AUDIT_LINES.append(line)
    audit.info(line)


def connect() -> None:
    """Connect the receivers (idempotent: each has a dispatch_uid)."""
    post_delete.connect(delete_attachment, sender=Article, dispatch_uid="blog.delete_attachment")
    post_delete.connect(invalidate_cache, sender=Article, dispatch_uid="blog.invalidate_cache")
    post_delete.connect(audit_article, sender=Article, dispatch_uid="blog.audit_article")
