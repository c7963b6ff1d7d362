"""Delivery straight from an inbox: the fast path of the in-process phases.

When every receiver of a captured model runs in the phase at hand (in the transaction,
or on commit), its deleted rows need not pass through the event table: the session's rows
are streamed from the inbox, typed, rebuilt (:func:`rowsync.events.rebuild.typed_plan`),
sent (:func:`rowsync.events.send.send`), and deleted from the inbox. No JSON is written
or parsed.

Rows that cannot be rebuilt are left to the event-table path, which hands them to the
worker (it dead-letters them with the reason).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connections, models
from django.db.models.signals import post_delete

from rowsync import conf
from rowsync.backends import get_backend
from rowsync.events import batch, receivers
from rowsync.events import context as context_module
from rowsync.events.capture import CaptureSpec
from rowsync.events.instances import new_instance
from rowsync.events.plan import Mode, model_mode
from rowsync.events.rebuild import (
    TypedPlan,
    build,
    fast_rebuild_ok,
    is_mapped,
    load_json,
    typed_plan,
)
from rowsync.events.send import evict, sender

if TYPE_CHECKING:
    from rowsync.events.session import DeleteCapture

__all__ = ["deliver_box", "deliver_boxes"]


def deliver_boxes(
    capture: DeleteCapture, boxes: list[CaptureSpec], origin: Any, phase: Mode
) -> list[CaptureSpec]:
    """Deliver from the inboxes whose receivers all run now; return the other inboxes.

    Rows that cannot be rebuilt stay in their inbox, which is returned too (the
    event-table path releases them to the worker).
    """
    rest: list[CaptureSpec] = []
    for box in boxes:
        try:
            model = apps.get_model(box.model_label)
        except LookupError:
            rest.append(box)
            continue
        part = receivers.split(post_delete, model, model_mode(model), "", phase)
        if part.next_mode is not None:
            rest.append(box)
            continue
        where, params = capture.box_rows(box)
        if deliver_box(capture.using, model, box, where, params, origin, phase, capture.context):
            rest.append(box)
    return rest


def deliver_box(
    using: str,
    model: type[models.Model],
    box: CaptureSpec,
    where: str,
    params: Sequence[Any],
    origin: Any,
    phase: Mode,
    context: str | None = None,
) -> list[Any]:
    """Deliver the inbox rows ``where`` selects, then delete them from the inbox.

    The rows are streamed (a server-side cursor where the engine has one) and delivered
    in batches of ``ROWSYNC_DELIVERY_BATCH_SIZE``.

    Args:
        using: Database alias.
        model: The captured model of ``box``.
        box: The inbox.
        where: Condition selecting the session's rows (``%s`` parameters ``params``).
        params: Parameters of ``where``.
        origin: ``origin`` of ``post_delete``.
        phase: The delivery phase running (its receivers are called, chosen anew for
            each batch by :func:`rowsync.events.receivers.split`).
        context: Actor context (JSON text) of rows that carry none (engines whose
            triggers write no context).

    Returns:
        The row ids (``inbox_row_id``) of rows that could not be rebuilt; they stay.

    Raises:
        Exception: whatever a receiver raises (the transaction rolls back).
    """
    connection = connections[using]
    backend = get_backend(connection)
    columns = [c.column for c in box.columns]
    plan = typed_plan(model, using, columns)
    contexts = _Contexts(load_json(context) if context is not None else None)
    bad: list[Any] = []
    delivered = 0
    try:
        with connection.chunked_cursor() as cursor:
            cursor.execute(backend.inbox_select_sql(box, columns, where), list(params))
            while rows := cursor.fetchmany(conf.delivery_batch_size()):
                delivered += len(rows)
                with batch.collecting():
                    bad += _send_batch(model, plan, rows, using, origin, phase, contexts)
    finally:
        contexts.close()
    if delivered:
        with connection.cursor() as cursor:
            cursor.execute(backend.inbox_delete_sql(box, where, keep=len(bad)), [*params, *bad])
    return bad


class _Contexts:
    """The actor context of the rows being sent, made current for their receivers.

    Rows of one delete share their context: it is decoded and made current once per
    change, not once per row.
    """

    def __init__(self, default: Any) -> None:
        self.default = self.value = default
        self.raw: Any = None
        self.token = context_module.push_event_context(default)

    def current(self, raw: Any) -> Any:
        """Return the decoded context of a row whose context column holds ``raw``."""
        if raw != self.raw:
            self.raw = raw
            self.value = self.default if raw is None else load_json(raw)
            context_module.pop_event_context(self.token)
            self.token = context_module.push_event_context(self.value)
        return self.value

    def close(self) -> None:
        """Restore the context in effect before."""
        context_module.pop_event_context(self.token)


def _send_batch(
    model: type[models.Model],
    plan: TypedPlan,
    rows: Sequence[Sequence[Any]],
    using: str,
    origin: Any,
    phase: Mode,
    contexts: _Contexts,
) -> list[Any]:
    """Rebuild and send one batch of inbox rows; return the ids of rows not rebuilt."""
    # Receivers may connect or disconnect in a receiver: choose once per batch.
    fast = fast_rebuild_ok(model)
    send = sender(
        post_delete,
        model,
        using,
        origin,
        receivers.split(post_delete, model, model_mode(model), "", phase).now,
    )
    mapped = is_mapped(model)
    converting, inherited, pk_position = plan.converting, plan.inherited, plan.pk_position
    attnames = plan.attnames
    bad: list[Any] = []
    ctx = contexts.value
    # The hot loop of in-transaction delivery: TypedPlan.values and build are inlined.
    for ident, ctx_raw, *values in rows:
        try:
            for i, convert in converting:
                values[i] = convert(values[i])
        except (ValidationError, ValueError, TypeError):
            bad.append(ident)
            continue
        if inherited:
            values[:0] = [values[pk_position]] * inherited
        if ctx_raw != contexts.raw:
            ctx = contexts.current(ctx_raw)
        if fast:
            instance = new_instance(model, attnames, values, using)
        else:
            instance = build(model, attnames, values, using, fast=False)
        instance._rowsync_context = ctx  # type: ignore[attr-defined]
        if mapped:
            evict(model, instance.pk, using)
        send(instance)
    return bad
