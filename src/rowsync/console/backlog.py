"""The backlog page: what waits, per captured model, and which workers are alive."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.db import router
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince

from rowsync import events
from rowsync.models import DeletedRow, WorkerHeartbeat

__all__ = ["backlog_view"]

#: The events changelist's filter for pending events.
_PENDING = {"status__exact": DeletedRow.Status.PENDING.value}


def _age(moment: datetime | None, now: datetime) -> str:
    return timesince(moment, now) if moment is not None else ""


def _rows(using: str, links: dict[str, str], now: datetime) -> list[dict[str, Any]]:
    """Return the backlog rows of database ``using`` as the template shows them."""
    return [
        {
            "model_label": row.model_label,
            "pending": row.pending,
            "inbox": row.inbox,
            "dead": row.dead,
            "oldest_pending": _age(row.oldest_pending, now),
            "pending_url": links["events"]
            + "?"
            + urlencode({"model": row.model_label, **_PENDING}),
            "dead_url": links["dead"] + "?" + urlencode({"model": row.model_label}),
        }
        for row in events.backlog(using)
    ]


def backlog_view(modeladmin: Any, request: HttpRequest) -> HttpResponse:
    """Show pending events, inbox rows, dead letters and the oldest pending age per model.

    The numbers come from the event table and the inboxes of the database the admin
    reads ``DeletedRow`` from (``router.db_for_read``); the workers from their heartbeats.
    """
    if not modeladmin.has_view_permission(request):
        raise PermissionDenied
    using = router.db_for_read(DeletedRow)
    now = timezone.now()
    site = modeladmin.admin_site.name
    links = {
        "events": reverse("admin:rowsync_deletedrow_changelist", current_app=site),
        "dead": reverse("admin:rowsync_deadletter_changelist", current_app=site),
    }
    rows = _rows(using, links, now)
    workers = [
        {"worker": w, "seen": _age(w.seen_at, now)}
        for w in WorkerHeartbeat.objects.using(using).order_by("worker_id")
    ]
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Event backlog",
        "opts": modeladmin.opts,
        "rows": rows,
        "totals": {key: sum(r[key] for r in rows) for key in ("pending", "inbox", "dead")},
        "workers": workers,
        "database": using,
    }
    request.current_app = site
    return TemplateResponse(request, "rowsync/admin/backlog.html", context)
