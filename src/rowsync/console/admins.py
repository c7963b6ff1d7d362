"""The ``ModelAdmin`` classes of the operator console: events and dead letters.

Both pages are read-only: nobody adds an event or edits its fields, whatever their
permissions. Viewing needs ``rowsync.view_deletedrow`` (or ``change_deletedrow``, as in
Django); retry, replay and requeue need ``rowsync.retry_deletedrow``; discarding needs
``rowsync.discard_deletedrow``. The dead letters' proxy has no permissions of its own.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince

from rowsync.console import actions
from rowsync.console.backlog import backlog_view
from rowsync.console.filters import AgeFilter, AttemptsFilter, ErrorFilter, ModelFilter
from rowsync.models import DeletedRow

__all__ = ["DeadLetterAdmin", "EventAdmin"]


if TYPE_CHECKING:  # generic in django-stubs only
    _ModelAdmin = admin.ModelAdmin[DeletedRow]
else:
    _ModelAdmin = admin.ModelAdmin


def can(request: HttpRequest, verb: str) -> bool:
    """Return whether the user holds ``rowsync.<verb>_deletedrow``."""
    return bool(request.user.has_perm(f"rowsync.{verb}_deletedrow"))


def _pretty(value: Any) -> SafeString:
    if value is None or value == "":
        return format_html("<pre>{}</pre>", "-")
    if not isinstance(value, str):
        value = json.dumps(value, indent=2, sort_keys=True, cls=DjangoJSONEncoder)
    return format_html('<pre class="rowsync-pre">{}</pre>', value)


class EventAdminBase(_ModelAdmin):
    """What both pages share: columns, filters, read-only detail, permissions."""

    list_display = (
        "id",
        "model_label",
        "op",
        "pk_text",
        "status",
        "attempts",
        "age",
        "next_attempt_at",
        "lease",
        "error",
    )
    search_fields = ("last_error", "pk_text", "model_label")
    search_help_text = "Finds text inside the last error, the primary key or the model label."
    ordering = ("-id",)
    # Event tables can hold millions of rows: no second COUNT(*) of the whole table, and
    # no per-choice counts next to the filters (the backlog page gives the numbers).
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    change_list_template = "rowsync/admin/change_list.html"
    fields = (
        ("model_label", "table_name"),
        ("op", "pk_text"),
        ("status", "attempts", "next_attempt_at"),
        ("created_at", "txid"),
        ("claimed_by", "claimed_until", "delivered_through"),
        "row_image",
        "changes_image",
        "actor_context",
        "error_text",
    )
    readonly_fields = (
        "model_label",
        "table_name",
        "op",
        "pk_text",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
        "txid",
        "claimed_by",
        "claimed_until",
        "delivered_through",
        "row_image",
        "changes_image",
        "actor_context",
        "error_text",
    )

    @admin.display(description="age", ordering="created_at")
    def age(self, event: DeletedRow) -> str:
        """Return how long ago the event was recorded."""
        return timesince(event.created_at)

    @admin.display(description="lease")
    def lease(self, event: DeletedRow) -> str:
        """Return who holds the event and until when (empty: nobody)."""
        if event.claimed_until is None:
            return event.claimed_by
        return f"{event.claimed_by or '?'} until {event.claimed_until:%Y-%m-%d %H:%M:%S}"

    @admin.display(description="last error")
    def error(self, event: DeletedRow) -> str:
        """Return the first line of the last error (shortened)."""
        head = event.last_error.split("\n", 1)[0]
        return head if len(head) <= 120 else head[:119] + "…"

    @admin.display(description="row image")
    def row_image(self, event: DeletedRow) -> SafeString:
        """Return the row image, pretty-printed."""
        return _pretty(event.row)

    @admin.display(description="changes")
    def changes_image(self, event: DeletedRow) -> SafeString:
        """Return an update's new values, pretty-printed."""
        return _pretty(event.changes)

    @admin.display(description="actor context")
    def actor_context(self, event: DeletedRow) -> SafeString:
        """Return the actor context, pretty-printed."""
        return _pretty(event.context)

    @admin.display(description="last error")
    def error_text(self, event: DeletedRow) -> SafeString:
        """Return the whole last error (exception line, then the traceback's tail)."""
        return _pretty(event.last_error)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Viewing needs ``view_deletedrow`` or ``change_deletedrow``."""
        return can(request, "view") or can(request, "change")

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Nobody adds events by hand."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Nobody edits an event's fields."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Nobody deletes through Django's delete pages: the "discard" action does it.

        This also keeps Django's "delete selected" action off the page.
        """
        return False

    def has_retry_permission(self, request: HttpRequest) -> bool:
        """Retry, replay and requeue need ``retry_deletedrow``."""
        return can(request, "retry")

    def has_discard_permission(self, request: HttpRequest) -> bool:
        """Discard needs ``discard_deletedrow``."""
        return can(request, "discard")

    def get_urls(self) -> list[URLPattern]:
        """Add the backlog page (``<changelist>/backlog/``)."""
        info = (self.opts.app_label, self.opts.model_name)
        backlog = path(
            "backlog/",
            self.admin_site.admin_view(self.backlog_view),
            name="{}_{}_backlog".format(*info),
        )
        return [backlog, *super().get_urls()]

    def backlog_view(self, request: HttpRequest) -> HttpResponse:
        """Show the backlog per captured model (see :mod:`rowsync.console.backlog`)."""
        return backlog_view(self, request)


class EventAdmin(EventAdminBase):
    """Every event: pending ones and dead letters."""

    list_filter = (ModelFilter, "op", "status", AgeFilter, AttemptsFilter, ErrorFilter)
    actions = (actions.retry_now, actions.replay, actions.discard)


class DeadLetterAdmin(EventAdminBase):
    """Dead letters only: events whose delivery gave up."""

    list_filter = (ModelFilter, "op", AgeFilter, AttemptsFilter, ErrorFilter)
    actions = (actions.replay, actions.requeue_matching, actions.discard)

    def get_queryset(self, request: HttpRequest) -> QuerySet[DeletedRow]:
        """Return the dead letters."""
        return super().get_queryset(request).filter(status=DeletedRow.Status.DEAD)
