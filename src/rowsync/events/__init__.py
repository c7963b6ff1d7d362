"""The events subsystem: capture deleted rows with triggers, deliver ``post_delete``.

Public pieces: :func:`rowsync.events.dispatch.deliver` and ``deliver_one`` (what the
worker and replay call per event), :func:`rowsync.events.context.actor_context`,
:func:`receiver_delivery` (a receiver's own delivery mode), the modes
(:class:`rowsync.events.plan.Mode`), the signals in
:mod:`rowsync.events.signals`, the ``RowsyncMeta`` model options read by
:mod:`rowsync.events.capture`, and the operator's actions of
:mod:`rowsync.events.operator` (``retry_now``, ``requeue_dead``, ``discard``, ``backlog``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import Model

from rowsync.events.receivers import receiver_delivery

if TYPE_CHECKING:  # the real names for type checkers; at run time they load lazily
    from rowsync.events.operator import (
        BacklogRow,
        RetryNow,
        backlog,
        discard,
        requeue_dead,
        retry_now,
    )

__all__ = [
    "BacklogRow",
    "RetryNow",
    "backlog",
    "delivers_post_delete",
    "discard",
    "receiver_delivery",
    "requeue_dead",
    "retry_now",
    "setup",
]

# The operator's actions (rowsync.events.operator) need the models: loaded on first access.
_LAZY_OPERATOR = ("BacklogRow", "RetryNow", "backlog", "discard", "requeue_dead", "retry_now")


def __getattr__(name: str) -> Any:
    if name in _LAZY_OPERATOR:
        from rowsync.events import operator

        return getattr(operator, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def delivers_post_delete(model: type[Model]) -> bool:
    """Return whether rowsync sends ``post_delete`` for rows the database deletes from ``model``.

    True when ORM deletes run in a capture session and ``model`` is captured with every
    column in its row image (no ``capture_exclude``): its receivers get an instance as
    complete as the one Django's Collector would have loaded. The on_delete side asks
    this before leaving a cascade to the database (:mod:`rowsync.ondelete.collection`).
    """
    from rowsync import _patch
    from rowsync.events.capture import excluded_fields, is_captured

    return (
        "events.capture_session" in _patch.delete_steps()
        and is_captured(model)
        and not excluded_fields(model)
    )


def _inbox_tables(using: str) -> list[str]:
    """Return the names of the inbox tables of database ``using``."""
    from rowsync.events import inbox

    return [box.inbox for box in inbox.specs(using)]


def setup() -> None:
    """Register the capture contributor, the checks, the delete step, flush (idempotent)."""
    from django.core import checks as django_checks
    from django.db import connections
    from django.db.models.signals import post_migrate, pre_migrate

    from rowsync import schema
    from rowsync.backends import get_backend, is_supported
    from rowsync.events import capture, checks, inbox, session, triggers, uninstall

    schema.setup()
    schema.register_contributor(triggers.OWNER, triggers.capture_objects)
    django_checks.register(checks.check_capture, django_checks.Tags.models)
    django_checks.register(checks.check_lost_side_effects, django_checks.Tags.models)
    django_checks.register(checks.check_batch_receivers, django_checks.Tags.signals)
    # Events may wait from an earlier configuration: guard their table in any case.
    pre_migrate.connect(
        uninstall.refuse_dropping_events, dispatch_uid="rowsync.events.uninstall.refuse"
    )
    if not capture.captured_models():
        return  # nothing captured: leave Django alone
    schema.activate()
    session.setup()
    # Django's flush empties the inboxes too, on the engines that have them.
    for alias in connections:
        if is_supported(connections[alias]):
            get_backend(connections[alias]).include_in_flush(_inbox_tables)
    post_migrate.connect(inbox.forget_tables, dispatch_uid="rowsync.events.inbox.forget_tables")
