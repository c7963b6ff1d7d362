"""The console's actions: retry now, replay, requeue all matching, discard.

Each action first answers with a confirmation page that shows how many events it will
touch; the page posts back with ``post=yes`` and the action runs as one or two
statements over the queryset (:mod:`rowsync.events.operator`), never loading the rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from rowsync import events
from rowsync.models import DeletedRow

__all__ = ["discard", "replay", "requeue_matching", "retry_now"]

Events = QuerySet[DeletedRow]


@dataclass(frozen=True)
class Confirmation:
    """What the confirmation page of an action says."""

    action: str
    title: str
    question: str
    submit: str
    note: str = ""


def _confirm_or_run(
    modeladmin: Any,
    request: HttpRequest,
    count: Callable[[], int],
    page: Callable[[int], Confirmation],
    run: Callable[[], str],
) -> TemplateResponse | None:
    """Show the confirmation page, or run the action once it was confirmed.

    Args:
        modeladmin: The changelist's admin.
        request: The action's request.
        count: Counts the events the action would touch (only for the confirmation page:
            the confirmed run counts with its own statement).
        page: Returns the confirmation page for that count.
        run: Runs the action; returns the message for the user.

    Returns:
        The confirmation page, or None after running (or with nothing to do): the admin
        then redirects to the changelist with its filters.
    """
    if request.POST.get("post") == "yes":
        modeladmin.message_user(request, run(), messages.SUCCESS)
        return None
    found = count()
    if found == 0:
        modeladmin.message_user(request, "Nothing to do: no event matches.", messages.WARNING)
        return None
    shown = page(found)
    opts = modeladmin.model._meta
    changelist = reverse(
        f"admin:{opts.app_label}_{opts.model_name}_changelist",
        current_app=modeladmin.admin_site.name,
    )
    query = request.GET.urlencode()
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": shown.title,
        "page": shown,
        "count": found,
        "opts": opts,
        "checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        # Ids on the page only: with "select all" the action uses the filter, not the ids.
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "select_across": request.POST.get("select_across", "0"),
        "changelist_url": f"{changelist}?{query}" if query else changelist,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, "rowsync/admin/confirm_action.html", context)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


@admin.action(description="Retry now (pending events)", permissions=["retry"])
def retry_now(modeladmin: Any, request: HttpRequest, queryset: Events) -> TemplateResponse | None:
    """Make the selected pending events due at once; leases still running are kept."""
    pending = queryset.filter(status=DeletedRow.Status.PENDING)

    def page(count: int) -> Confirmation:
        held = pending.filter(claimed_until__gte=timezone.now()).count()
        note = (
            f"{_plural(held, 'event')} held by a running worker's lease: "
            "they keep the lease and are delivered by that worker."
            if held
            else ""
        )
        question = f"Make {_plural(count, 'pending event')} due at once?"
        return Confirmation("retry_now", "Retry now", question, "Yes, retry now", note)

    def run() -> str:
        done = events.retry_now(queryset)
        return (
            f"{_plural(done.rescheduled, 'pending event')} due at once "
            f"({done.released} expired lease(s) cleared)."
        )

    return _confirm_or_run(modeladmin, request, pending.count, page, run)


def _requeue_page(action: str, title: str, scope: str) -> Callable[[int], Confirmation]:
    def page(count: int) -> Confirmation:
        return Confirmation(
            action,
            title,
            f"Put {_plural(count, 'dead letter')} {scope}back in the worker's queue?",
            f"Yes, requeue {_plural(count, 'dead letter')}",
            "They become pending with their attempts reset, as `manage.py rowsync replay "
            "--requeue` does; a running worker delivers them.",
        )

    return page


def _requeue(
    modeladmin: Any, request: HttpRequest, dead: Events, page: Callable[[int], Confirmation]
) -> TemplateResponse | None:
    def run() -> str:
        return f"Requeued {_plural(events.requeue_dead(dead), 'dead letter')}."

    letters = dead.filter(status=DeletedRow.Status.DEAD)
    return _confirm_or_run(modeladmin, request, letters.count, page, run)


@admin.action(description="Replay (dead letters back to the queue)", permissions=["retry"])
def replay(modeladmin: Any, request: HttpRequest, queryset: Events) -> TemplateResponse | None:
    """Requeue the selected dead letters (pending again, attempts reset)."""
    return _requeue(modeladmin, request, queryset, _requeue_page("replay", "Replay", ""))


@admin.action(description="Requeue all dead letters matching this filter", permissions=["retry"])
def requeue_matching(
    modeladmin: Any, request: HttpRequest, queryset: Events
) -> TemplateResponse | None:
    """Requeue every dead letter the changelist's filter and search match, in one UPDATE.

    The ticked rows do not matter: the action takes the changelist's filtered queryset
    (all pages), as "Select all" does.
    """
    if request.POST.get("select_across") != "1":
        queryset = modeladmin.get_changelist_instance(request).get_queryset(request)
    page = _requeue_page("requeue_matching", "Requeue matching", "matching this filter ")
    return _requeue(modeladmin, request, queryset, page)


@admin.action(description="Discard (delete, never delivered)", permissions=["discard"])
def discard(modeladmin: Any, request: HttpRequest, queryset: Events) -> TemplateResponse | None:
    """Delete the selected events: their ``post_delete`` is never sent."""

    def page(count: int) -> Confirmation:
        return Confirmation(
            "discard",
            "Discard events",
            f"Discard {_plural(count, 'event')}?",
            f"Yes, discard {_plural(count, 'event')}",
            "Discarded events are deleted: their post_delete is never sent.",
        )

    def run() -> str:
        return f"Discarded {_plural(events.discard(queryset), 'event')}."

    return _confirm_or_run(modeladmin, request, queryset.count, page, run)
