"""``migrate rowsync zero``: refuse to drop undelivered events without a word.

Unapplying rowsync's first migration drops the event table, and with it every event not
delivered yet (and the inboxes of the captured tables go with the objects of the apps
that stay). A ``pre_migrate`` receiver counts them first and stops ``migrate`` with a
``CommandError`` that says how to deliver them; ``ROWSYNC_UNINSTALL_DISCARD_EVENTS = True``
lets it drop them.
"""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core.management.base import CommandError
from django.db import DatabaseError, connections

from rowsync import conf
from rowsync.backends import is_supported
from rowsync.schema import unapplies_rowsync

__all__ = ["refuse_dropping_events", "undelivered"]


def undelivered(using: str) -> dict[str, int]:
    """Return ``{"pending": n, "inboxes": n, "dead letters": n}`` on database ``using``."""
    from rowsync.events import inbox
    from rowsync.models import DeletedRow

    connection = connections[using]
    if DeletedRow._meta.db_table not in connection.introspection.table_names():
        return {}
    rows = DeletedRow.objects.using(using)
    return {
        "pending": rows.filter(status=DeletedRow.Status.PENDING).count(),
        "inboxes": inbox.pending_count(using),
        "dead letters": rows.filter(status=DeletedRow.Status.DEAD).count(),
    }


def refuse_dropping_events(
    sender: AppConfig, using: str = "default", plan: object = None, **kwargs: Any
) -> None:
    """``pre_migrate`` receiver: stop ``migrate rowsync zero`` while events wait.

    Raises:
        CommandError: The plan unapplies rowsync's first migration, events wait and
            ``ROWSYNC_UNINSTALL_DISCARD_EVENTS`` is not set.
    """
    if sender.label != "rowsync" or not unapplies_rowsync(plan):
        return
    if conf.uninstall_discard_events() or not is_supported(connections[using]):
        return
    try:
        counts = undelivered(using)
    except DatabaseError:
        return  # an event table rowsync cannot read: nothing it could deliver either
    total = sum(counts.values())
    if not total:
        return
    detail = ", ".join(f"{n} {what}" for what, n in counts.items() if n)
    raise CommandError(
        f"Unapplying rowsync's migrations would drop {total} undelivered events on database "
        f"{using!r} ({detail}). Deliver them first: `manage.py rowsync worker --drain "
        f"--database {using}` (dead letters: `manage.py rowsync replay --all`), or set "
        "ROWSYNC_UNINSTALL_DISCARD_EVENTS = True to drop them."
    )
