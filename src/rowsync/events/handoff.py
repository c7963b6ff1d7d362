"""Hand events over to a task queue: one Django task (``django.tasks``, Django 6.0+) per row.

:func:`handoff` connects a receiver that enqueues a task with a JSON payload describing
the deleted (or FK-changed) row; the task rebuilds the instance with
:func:`instance_from_payload`. The receiver is an ordinary one, so it can have a delivery
mode of its own (``delivery="worker"``: ``manage.py rowsync worker`` enqueues the tasks).

Nothing here imports ``django.tasks``: any object with ``enqueue(payload)`` works, which
keeps this module importable on Django 5.2 (:func:`tasks_available` tells whether
Django's task framework exists). For Celery, :mod:`rowsync.events.celery` publishes after
the commit with the event id as the task id (see ``docs/celery.md``).
"""

from __future__ import annotations

import datetime
import decimal
import importlib.util
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from django.apps import apps
from django.db import models
from django.db.models.fields.files import FieldFile
from django.db.models.signals import post_delete
from django.dispatch import Signal
from django.utils.duration import duration_iso_string

from rowsync.events import signals as rowsync_signals
from rowsync.events.context import current_context
from rowsync.events.rebuild import rebuild
from rowsync.events.receivers import receiver_delivery

__all__ = [
    "Enqueueable",
    "event_id",
    "event_payload",
    "handoff",
    "instance_from_payload",
    "tasks_available",
]


class Enqueueable(Protocol):
    """What :func:`handoff` needs: a ``django.tasks.Task`` (or anything alike)."""

    def enqueue(self, *args: Any, **kwargs: Any) -> Any: ...


def tasks_available() -> bool:
    """Return whether Django's task framework (``django.tasks``, Django 6.0+) is installed."""
    return importlib.util.find_spec("django.tasks") is not None


def _json(value: Any) -> Any:
    """Return ``value`` as a JSON value :func:`rowsync.events.rebuild.rebuild` reads back."""
    match value:
        case None | bool() | int() | float() | str():
            return value
        case bytes() | bytearray() | memoryview():
            return bytes(value).hex()  # what the capture triggers write for binary columns
        case FieldFile():
            return value.name or ""
        case datetime.datetime() | datetime.date() | datetime.time():
            return value.isoformat()  # full precision (DjangoJSONEncoder cuts microseconds)
        case datetime.timedelta():
            return duration_iso_string(value)
        case decimal.Decimal() | uuid.UUID():
            return str(value)
        case Mapping():
            return {str(k): _json(v) for k, v in value.items()}
        case list() | tuple():
            return [_json(v) for v in value]
        case _:
            return str(value)


def event_id(instance: models.Model) -> int | None:
    """Return the id of the event (``DeletedRow``) whose delivery signalled ``instance``.

    Every delivery that reads the event table sets it: the worker, replay, and the
    in-process phases for the events they read from the event table. It is None for rows
    Django's collector signalled itself (no event is kept for them) and for rows the
    in-process phases, or a PostgreSQL worker, deliver straight from an inbox (see
    ``docs/celery.md``). A worker keeps the rows of a model with a receiver marked
    :data:`rowsync.events.receivers.NEEDS_EVENT_ID` (the Celery hand-off's) in the event
    table, so such a receiver always gets an id there.
    """
    value = getattr(instance, "_rowsync_event_id", None)
    return None if value is None else int(value)


def _context_of(instance: models.Model) -> Any:
    """Return the actor context of the delivery of ``instance``.

    rowsync's deliveries set it on the instance; for rows Django's collector signals
    itself, it is the context of the code deleting them (in effect while Django sends).
    """
    if hasattr(instance, "_rowsync_context"):
        return instance._rowsync_context
    return current_context()


def event_payload(
    sender: type[models.Model],
    instance: models.Model,
    using: str,
    signal: Signal | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Describe a signalled row as JSON: what a task needs to rebuild the instance.

    Call it with a receiver's own arguments (``event_payload(sender, instance, using,
    signal=signal, **kwargs)``).

    Returns:
        ``{"signal": "post_delete" | "post_db_update", "model": "app_label.model",
        "pk": ..., "using": ..., "row": {column: value}, "context": ...,
        "event_id": int | None}`` (see :func:`event_id`), plus
        ``"changes"`` for ``post_db_update``. Fields the instance defers are left out of
        ``row`` (they stay deferred when rebuilt).
    """
    deferred = instance.get_deferred_fields()
    row = {
        f.column: _json(getattr(instance, f.attname))
        for f in sender._meta.concrete_fields
        if f.attname not in deferred
    }
    payload: dict[str, Any] = {
        "signal": "post_db_update" if signal is rowsync_signals.post_db_update else "post_delete",
        "model": sender._meta.label_lower,
        "pk": _json(instance.pk),
        "using": using,
        "row": row,
        "context": _json(_context_of(instance)),
        "event_id": event_id(instance),
    }
    if "changes" in kwargs:
        payload["changes"] = _json(kwargs["changes"])
    return payload


def instance_from_payload(payload: Mapping[str, Any]) -> models.Model:
    """Rebuild the instance an :func:`event_payload` describes (in the task).

    Raises:
        LookupError: the model is no longer installed.
        rowsync.events.rebuild.EventDecodeError: the row cannot be rebuilt.
    """
    model = apps.get_model(payload["model"])
    instance = rebuild(model, payload["row"], payload["using"])
    instance._rowsync_context = payload.get("context")  # type: ignore[attr-defined]
    return instance


def handoff(
    task: Enqueueable,
    *,
    sender: type[models.Model] | None = None,
    signal: Signal = post_delete,
    delivery: str | None = None,
    dispatch_uid: str | None = None,
) -> Callable[..., None]:
    """Connect a receiver that enqueues ``task`` with the :func:`event_payload` of each row.

    Args:
        task: A ``django.tasks.Task`` (from ``@task``); it is called as
            ``task.enqueue(payload)``, so its function takes one argument.
        sender: Only rows of this model (None: every model's).
        signal: ``post_delete`` (default) or ``rowsync.events.signals.post_db_update``.
        delivery: The receiver's delivery mode (see
            :func:`rowsync.events.receiver_delivery`); None: the model's.
        dispatch_uid: Passed to ``signal.connect`` (connect once per process).

    Returns:
        The receiver, connected strongly (``weak=False``); disconnect it with
        ``signal.disconnect(receiver, sender=sender)`` (or ``dispatch_uid=`` instead of
        the receiver, with the same ``sender``).

    Example:
        >>> @task
        ... def purge_cdn(event):
        ...     article = instance_from_payload(event)
        >>> handoff(purge_cdn, sender=Article, delivery="worker")
    """

    def enqueue_task(
        sender: type[models.Model], instance: models.Model, using: str, **kwargs: Any
    ) -> None:
        kwargs.pop("origin", None)  # not serializable, and gone by the time the task runs
        task.enqueue(event_payload(sender, instance, using, **kwargs))

    if delivery is not None:
        receiver_delivery(delivery)(enqueue_task)
    signal.connect(enqueue_task, sender=sender, weak=False, dispatch_uid=dispatch_uid)
    return enqueue_task
