"""The events subsystem: capture deleted rows with triggers, deliver ``post_delete``.

Public pieces: :func:`rowsync.events.dispatch.deliver` (used by the worker),
:func:`rowsync.events.context.actor_context`, :func:`receiver_delivery` (a receiver's
own delivery mode), the signals in
:mod:`rowsync.events.signals`, and the ``RowsyncMeta`` model options read by
:mod:`rowsync.events.capture`.
"""

from __future__ import annotations

from rowsync.events.receivers import receiver_delivery

__all__ = ["receiver_delivery", "setup"]


def _inbox_tables(using: str) -> list[str]:
    """Return the names of the inbox tables of database ``using``."""
    from rowsync.events import inbox

    return [box.inbox for box in inbox.specs(using)]


def setup() -> None:
    """Register the capture contributor, the checks, the delete wrapper, flush (idempotent)."""
    from django.core import checks as django_checks
    from django.db import connections
    from django.db.models.signals import post_migrate, pre_migrate

    from rowsync import schema
    from rowsync.backends import get_backend, is_supported
    from rowsync.events import capture, checks, delivery, inbox, triggers, uninstall

    schema.setup()
    schema.register_contributor(triggers.OWNER, triggers.capture_objects)
    django_checks.register(checks.check_capture, django_checks.Tags.models)
    django_checks.register(checks.check_lost_side_effects, django_checks.Tags.models)
    # Events may wait from an earlier configuration: guard their table in any case.
    pre_migrate.connect(
        uninstall.refuse_dropping_events, dispatch_uid="rowsync.events.uninstall.refuse"
    )
    if not capture.captured_models():
        return  # nothing captured: leave Django alone
    schema.activate()
    delivery.setup()
    # Django's flush empties the inboxes too, on the engines that have them.
    for alias in connections:
        if is_supported(connections[alias]):
            get_backend(connections[alias]).include_in_flush(_inbox_tables)
    post_migrate.connect(inbox.forget_tables, dispatch_uid="rowsync.events.inbox.forget_tables")
