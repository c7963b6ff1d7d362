"""Send one rebuilt row to its receivers: used by every delivery path.

In the transaction, on commit, in the worker and in replay, a deleted row ends here:
the identity map is told (the row is gone, or an FK action changed it), the event's
actor context is made current and set on the instance, and the signal goes to the
receivers of the phase at hand (:func:`rowsync.events.receivers.split`), or to every
receiver. This module knows no SQL and rebuilds nothing (:mod:`rowsync.events.rebuild`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.db import models
from django.db.models.signals import post_delete
from django.dispatch import Signal

from rowsync import identity
from rowsync.events import batch, receivers
from rowsync.events import context as context_module
from rowsync.events import signals as rowsync_signals
from rowsync.events.rebuild import UPDATE, load_json

__all__ = ["changed_values", "deliver_instance", "evict", "send", "sender", "signal_for"]


def signal_for(op: str) -> Signal:
    """Return the signal an event of ``op`` is delivered as (``post_delete`` for deletes)."""
    return rowsync_signals.post_db_update if op == UPDATE else post_delete


def changed_values(
    model: type[models.Model], changes: Any, instance: models.Model
) -> dict[str, Any]:
    """Return ``{attname: new value}`` for the columns an FK action changed."""
    by_column = {f.column: f for f in model._meta.local_concrete_fields}
    out: dict[str, Any] = {}
    for column in load_json(changes) or {}:
        field = by_column.get(column)
        if field is not None:
            out[field.attname] = getattr(instance, field.attname)
    return out


def evict(model: type[models.Model], pk: Any, using: str) -> None:
    """Tell the identity map that the row ``pk`` of ``model`` is gone (no-op if unmapped)."""
    identity.discard_row(model, pk, using)


def refresh(model: type[models.Model], pk: Any, using: str, values: Mapping[str, Any]) -> None:
    """Tell the identity map the new ``values`` an FK action wrote into row ``pk``."""
    identity.update_row(model, pk, using, values)


def send(
    signal: Signal,
    model: type[models.Model],
    instance: models.Model,
    using: str,
    origin: Any,
    *,
    only: Sequence[Callable[..., Any]] | None,
    robust: bool,
    **named: Any,
) -> BaseException | None:
    """Send ``signal`` for ``instance`` to ``only`` (or to every receiver when None).

    Args:
        signal: ``post_delete`` or ``post_db_update``.
        model: The sender.
        instance: The rebuilt instance.
        using: The database alias the row lived in.
        origin: ``origin`` of the signal.
        only: The receivers of the phase at hand; None sends to every live receiver.
        robust: Run every receiver and return the first error, instead of raising it.
        **named: Further arguments of the signal (``changes=`` of ``post_db_update``).

    Returns:
        The first error a receiver raised (only when ``robust``), else None.

    Raises:
        Exception: whatever a receiver raises, when ``robust`` is False.
    """
    kwargs = {"instance": instance, "using": using, "origin": origin, **named}
    if only is not None:
        return receivers.send_to(only, signal, model, robust=robust, **kwargs)
    # Every receiver: the batch receivers too (collected, called at the batch's end).
    batched = signal is post_delete and batch.has_receivers()
    if not robust:
        signal.send(sender=model, **kwargs)
        if batched:
            batch.collect(model, instance, using, origin)
        return None
    results = signal.send_robust(sender=model, **kwargs)
    errors = [result for _r, result in results if isinstance(result, Exception)]
    if batched:
        try:
            batch.collect(model, instance, using, origin)
        except Exception as exc:
            errors.append(exc)
    return errors[0] if errors else None


def sender(
    signal: Signal,
    model: type[models.Model],
    using: str,
    origin: Any,
    only: Sequence[Callable[..., Any]],
) -> Callable[[models.Model], None]:
    """Return ``send(instance)``: :func:`send` to ``only``, not robust, bound for one batch.

    The loop over a batch of inbox rows calls it once per row: binding the arguments once
    keeps that loop as short as calling the receivers inline.
    """
    calls = tuple(only)

    def send_one(instance: models.Model) -> None:
        for call in calls:
            call(signal=signal, sender=model, instance=instance, using=using, origin=origin)

    return send_one


def deliver_instance(
    op: str,
    model: type[models.Model],
    instance: models.Model,
    using: str,
    origin: Any,
    *,
    context: Any,
    changes: Any = None,
    only: Sequence[Callable[..., Any]] | None,
    robust: bool,
) -> BaseException | None:
    """Update the identity map, then :func:`send` with the event's context current.

    Args:
        op: The event's op (``"D"`` deleted, ``"U"`` changed by an FK action).
        model: The model.
        instance: The rebuilt instance.
        using: The database alias.
        origin: ``origin`` of the signal.
        context: The actor context (decoded), set as ``instance._rowsync_context``.
        changes: ``{column: new value}`` (JSON) of an ``"U"`` event.
        only: See :func:`send`.
        robust: See :func:`send`.
    """
    instance._rowsync_context = context  # type: ignore[attr-defined]
    token = context_module.push_event_context(context)
    try:
        if op == UPDATE:
            refresh(model, instance.pk, using, changed_values(model, changes, instance))
            named: dict[str, Any] = {"changes": load_json(changes) or {}}
        else:
            evict(model, instance.pk, using)
            named = {}
        return send(
            signal_for(op), model, instance, using, origin, only=only, robust=robust, **named
        )
    finally:
        context_module.pop_event_context(token)
