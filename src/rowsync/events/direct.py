"""Delivery straight from an inbox: the fast path of delivery mode ``"transaction"``.

When every receiver of a captured model runs in the phase at hand (in the transaction,
or on commit), its deleted rows need not pass through the event table: the session's rows
are streamed from the inbox, typed; each value goes through the converters Django applies
to a query result of the same column (so the instance equals one loaded by a query);
``post_delete`` is sent; and the rows are deleted from the inbox. No JSON is written or
parsed.

Rows that cannot be rebuilt are left to the event-table path, which hands them to the
worker (it dead-letters them with the reason).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.db import connections, models
from django.db.models.signals import post_delete

from rowsync import conf
from rowsync.backends import get_backend
from rowsync.events import context as context_module
from rowsync.events import receivers
from rowsync.events.capture import CaptureSpec
from rowsync.events.dispatch import (
    _identity_discard,
    _identity_maps,
    _load_json,
    _model_mode,
    _new_instance,
    fast_rebuild_ok,
    from_row_image,
    inherited_keys,
)

__all__ = ["deliver_box"]


class _Plan(NamedTuple):
    """How to turn inbox rows of one model into instances (per model, alias, columns)."""

    attnames: list[str]
    #: ``[(position, converter)]`` of the columns Django converts: each converter runs
    #: the chain Django applies to a query result of the column.
    converting: list[tuple[int, Callable[[Any], Any]]]
    #: How many parents' keys (multi-table inheritance) come first in ``attnames``; they
    #: take the value of the column at ``pk_position``.
    inherited: int = 0
    pk_position: int = 0


_PLANS: dict[tuple[type[models.Model], str, tuple[str, ...]], _Plan] = {}


def _chain(
    converters: list[Callable[..., Any]], expression: Any, connection: Any
) -> Callable[[Any], Any]:
    if len(converters) == 1:
        only = converters[0]
        return lambda value: only(value, expression, connection)

    def run(value: Any) -> Any:
        for converter in converters:
            value = converter(value, expression, connection)
        return value

    return run


def _plan(model: type[models.Model], using: str, columns: Sequence[str]) -> _Plan:
    key = (model, using, tuple(columns))
    plan = _PLANS.get(key)
    if plan is None:
        connection = connections[using]
        fast = get_backend(connection).fast_converter
        by_column = {f.column: f for f in model._meta.local_concrete_fields}
        inherited = inherited_keys(model)
        assert model._meta.pk is not None
        plan = _Plan(
            [*inherited, *(by_column[column].attname for column in columns)],
            [],
            len(inherited),
            list(columns).index(model._meta.pk.column),
        )
        for position, column in enumerate(columns):
            col = by_column[column].get_col(model._meta.db_table)
            converters = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            if converters:
                plan.converting.append(
                    (position, _chain([fast(c) for c in converters], col, connection))
                )
        _PLANS[key] = plan
    return plan


def deliver_box(
    using: str,
    model: type[models.Model],
    box: CaptureSpec,
    where: str,
    params: Sequence[Any],
    origin: Any,
    phase: str,
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
    qn = connection.ops.quote_name
    columns = [c.column for c in box.columns]
    attnames, converting, inherited, pk_position = _plan(model, using, columns)
    mode = _model_mode(model)
    size = conf.delivery_batch_size()
    row_id = backend.inbox_row_id
    order = f" ORDER BY {row_id}" if backend.inbox_ordered else ""
    select = (
        f"SELECT {row_id}, {qn('rowsync_context')}, "
        + ", ".join(qn(c) for c in columns)
        + f" FROM {qn(box.inbox)} WHERE {where}{order}"
    )
    default_ctx = _load_json(context) if context is not None else None
    bad: list[Any] = []
    delivered = 0
    push, pop = context_module.push_event_context, context_module.pop_event_context
    # Rows of one delete share their context: decode it and make it current once per
    # change, not once per row.
    last_raw: Any = None
    ctx = default_ctx
    token = push(ctx)
    try:
        with connection.chunked_cursor() as cursor:
            cursor.execute(select, list(params))
            while True:
                rows = cursor.fetchmany(size)
                if not rows:
                    break
                delivered += len(rows)
                # Receivers may connect or disconnect in a receiver: choose once per batch.
                fast = fast_rebuild_ok(model)
                calls = receivers.split(post_delete, model, mode, "", phase).now
                mapped = _identity_maps(model)
                for ident, ctx_raw, *values in rows:
                    try:
                        for i, convert in converting:
                            values[i] = convert(values[i])
                    except (ValidationError, ValueError, TypeError):
                        bad.append(ident)
                        continue
                    if inherited:
                        values[:0] = [values[pk_position]] * inherited
                    if ctx_raw != last_raw:
                        last_raw = ctx_raw
                        ctx = default_ctx if ctx_raw is None else _load_json(ctx_raw)
                        pop(token)
                        token = push(ctx)
                    if fast:
                        instance = _new_instance(model, attnames, values, using)
                    else:
                        instance = from_row_image(model, attnames, values, using)
                    instance._rowsync_context = ctx  # type: ignore[attr-defined]
                    if mapped:
                        _identity_discard(model, instance.pk, using)
                    for call in calls:
                        call(
                            signal=post_delete,
                            sender=model,
                            instance=instance,
                            using=using,
                            origin=origin,
                        )
    finally:
        pop(token)
    if delivered:
        delete = f"DELETE FROM {qn(box.inbox)} WHERE {where}"
        keep: list[Any] = []
        if bad:
            delete += f" AND {row_id} NOT IN ({', '.join(['%s'] * len(bad))})"
            keep = bad
        with connection.cursor() as cursor:
            cursor.execute(delete, [*params, *keep])
    return bad
