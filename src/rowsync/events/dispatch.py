"""Deliver events of the event table: rebuild the instance, send the signal.

An event (a ``DeletedRow``, or an :class:`EventRecord` read by in-process delivery) holds
a JSON row image. :func:`deliver_one` rebuilds the instance
(:func:`rowsync.events.rebuild.rebuild`) and sends it (:mod:`rowsync.events.send`): the
worker and replay call it for each event in their own savepoint; the in-process phases
(:mod:`rowsync.events.delivery`) call it in their streaming loop. :func:`deliver` is the
robust form for a list of events. This module knows no SQL.

The rebuilding functions (:func:`rebuild`, :func:`fast_rebuild_ok`,
:func:`inherited_keys`, :exc:`EventDecodeError`) live in :mod:`rowsync.events.rebuild`
and are re-exported here, where they always were.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from django.db import models

from rowsync.events import receivers
from rowsync.events.plan import Mode, model_mode
from rowsync.events.rebuild import (
    DELETE,
    OPS,
    UPDATE,
    EventDecodeError,
    fast_rebuild_ok,
    inherited_keys,
    load_json,
    rebuild,
    resolve_model,
)
from rowsync.events.send import deliver_instance, signal_for

__all__ = [
    "DELETE",
    "OPS",
    "UPDATE",
    "EventDecodeError",
    "EventLike",
    "EventRecord",
    "Outcome",
    "deliver",
    "deliver_one",
    "fast_rebuild_ok",
    "inherited_keys",
    "rebuild",
    "resolve_model",
]


class EventLike(Protocol):
    """What :func:`deliver` reads from an event (``DeletedRow`` satisfies it)."""

    @property
    def id(self) -> Any: ...
    @property
    def model_label(self) -> str: ...
    @property
    def table_name(self) -> str: ...
    @property
    def op(self) -> str: ...
    @property
    def row(self) -> Any: ...
    @property
    def changes(self) -> Any: ...
    @property
    def context(self) -> Any: ...


class EventRecord(NamedTuple):
    """A light event read with a raw cursor by in-process delivery."""

    id: int
    model_label: str
    table_name: str
    op: str
    row: Any
    changes: Any
    context: Any
    pk_text: str = ""
    delivered_through: str = ""


@dataclass
class Outcome:
    """What happened to one event in :func:`deliver`.

    Attributes:
        event_id: The event's id.
        instance: The rebuilt instance (None if it could not be rebuilt).
        error: The first exception a receiver raised, or the decode error.
        permanent: True when retrying cannot help (the event cannot be decoded):
            dead-letter it with ``str(error)`` as the reason.
    """

    event_id: Any
    instance: models.Model | None = None
    error: BaseException | None = None
    permanent: bool = False

    @property
    def ok(self) -> bool:
        """Return whether the event was delivered without any error."""
        return self.error is None


def deliver_one(
    event: EventLike,
    using: str,
    origin: Any = None,
    *,
    robust: bool = False,
    fast: bool | None = None,
    only: Sequence[Callable[..., Any]] | None = None,
) -> Outcome:
    """Deliver one event: evict/update the identity map, then send the signal.

    Deleted rows get Django's ``post_delete(sender, instance, using, origin)``; rows an FK
    action changed (``SET_NULL``/``SET_DEFAULT``/``SET``) get
    :data:`rowsync.events.signals.post_db_update`. The event's actor context is set on the
    instance as ``instance._rowsync_context`` (also available from
    :func:`rowsync.events.context.event_context` during delivery).

    Args:
        event: The event.
        using: The database alias the row lived in.
        origin: The object or queryset whose delete caused it (None when unknown).
        robust: Catch receiver errors into the outcome instead of raising them.
        fast: Whether :func:`rebuild` may skip ``Model.__init__`` (None: ask
            :func:`fast_rebuild_ok`; batch callers ask once per batch).
        only: Call only these receivers (in-process phases,
            :func:`rowsync.events.receivers.split`). None: every receiver, except those
            an earlier phase already called (the event's ``delivered_through``).

    Raises:
        EventDecodeError: only when ``robust`` is False and the event cannot be decoded.
        Exception: whatever a receiver raises, when ``robust`` is False.
    """
    outcome = Outcome(event_id=event.id)
    try:
        model, instance = _rebuild_event(event, using, fast)
    except EventDecodeError as exc:
        if not robust:
            raise
        outcome.error, outcome.permanent = exc, True
        return outcome
    outcome.instance = instance
    through = getattr(event, "delivered_through", "") or ""
    if only is None and through:
        # An earlier phase called some receivers: call the others (worker, replay).
        part = receivers.split(
            signal_for(event.op), model, model_mode(model), through, Mode.WORKER
        )
        only = None if part.everyone else part.now
    outcome.error = deliver_instance(
        event.op,
        model,
        instance,
        using,
        origin,
        context=load_json(event.context),
        changes=event.changes,
        only=only,
        robust=robust,
    )
    return outcome


def _rebuild_event(
    event: EventLike, using: str, fast: bool | None
) -> tuple[type[models.Model], models.Model]:
    """Return the model and the rebuilt instance of ``event`` (its id in ``_rowsync_event_id``).

    Raises:
        EventDecodeError: the event cannot be decoded.
    """
    model = resolve_model(event)
    row = load_json(event.row)
    if not isinstance(row, dict):
        raise EventDecodeError(f"event {event.id}: row image is not an object: {row!r}")
    if fast is None:
        fast = fast_rebuild_ok(model)
    instance = rebuild(model, row, using, fast=fast)
    # The idempotency key of hand-offs (rowsync.events.handoff.event_id).
    # Rows a worker took straight from an inbox have id 0: no event id.
    instance._rowsync_event_id = event.id or None  # type: ignore[attr-defined]
    return model, instance


def deliver(events: Iterable[EventLike], using: str, origin: Any = None) -> list[Outcome]:
    """Deliver events one by one, never raising.

    The robust form of :func:`deliver_one` for a list of events (scripts, tests). The
    worker and replay call :func:`deliver_one` themselves, one event per savepoint, so
    that a receiver's error rolls back that event's writes only.

    Every receiver runs for every event, even when another receiver raised (Django's
    ``send_robust``); the outcome of an event carries the first error. An event whose
    outcome is ``permanent`` can never be decoded (unknown model, unreadable image):
    dead-letter it; retry the others that carry an error.

    Args:
        events: ``DeletedRow`` instances or :class:`EventRecord` tuples.
        using: Database alias the rows were deleted from.
        origin: Passed to ``post_delete`` as ``origin`` (workers pass None).

    Returns:
        One :class:`Outcome` per event, in order.
    """
    return [deliver_one(event, using, origin, robust=True) for event in events]
