"""Delivery straight from an inbox: the fast path of delivery mode ``"transaction"``.

When every receiver of a captured model runs in the transaction, its deleted rows need
not pass through the event table: the rows are read from the inbox, typed, in sequence
ranges; each value goes through the converters Django applies to a query result of the
same column (so the instance equals one loaded by a query); ``post_delete`` is sent; and
the range is deleted from the inbox. No JSON is written or parsed.

Rows that cannot be rebuilt are left to the event-table path, which hands them to the
worker (it dead-letters them with the reason).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connections, models
from django.db.models.signals import post_delete

from rowsync import conf
from rowsync.events import context as context_module
from rowsync.events.capture import CaptureSpec
from rowsync.events.dispatch import (
    _identity_discard,
    _load_json,
    _new_instance,
    fast_rebuild_ok,
)

__all__ = ["deliver_box"]

#: ``[(attname, [converter, ...], column expression)]`` per (model, alias, columns).
_Converters = list[tuple[str, list[Callable[..., Any]], Any]]
_PLANS: dict[tuple[type[models.Model], str, tuple[str, ...]], _Converters] = {}


def _plan(model: type[models.Model], using: str, columns: Sequence[str]) -> _Converters:
    key = (model, using, tuple(columns))
    plan = _PLANS.get(key)
    if plan is None:
        connection = connections[using]
        by_column = {f.column: f for f in model._meta.concrete_fields}
        plan = []
        for column in columns:
            field = by_column[column]
            col = field.get_col(model._meta.db_table)
            converters = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
            plan.append((field.attname, converters, col))
        _PLANS[key] = plan
    return plan


def deliver_box(
    using: str,
    model: type[models.Model],
    box: CaptureSpec,
    where: str,
    params: Sequence[Any],
    first: int,
    last: int,
    origin: Any,
    receivers: Sequence[Callable[..., Any]] | None,
    context: str | None = None,
) -> list[int]:
    """Deliver the inbox rows ``where`` selects with ``first < rowsync_seq <= last``.

    Args:
        using: Database alias.
        model: The captured model of ``box``.
        box: The inbox.
        where: Condition selecting the session's rows (``%s`` parameters ``params``);
            the sequence range is added batch by batch.
        params: Parameters of ``where``.
        first: Sequence floor (exclusive).
        last: Sequence ceiling (inclusive).
        origin: ``origin`` of ``post_delete``.
        receivers: The receivers to call, or None: every receiver (``signal.send``).
        context: Actor context (JSON text) of rows that carry none (engines whose
            triggers write no context).

    Returns:
        The sequence numbers of rows that could not be rebuilt (left in the inbox).

    Raises:
        Exception: whatever a receiver raises (the transaction rolls back).
    """
    connection = connections[using]
    qn = connection.ops.quote_name
    columns = [c.column for c in box.columns]
    plan = _plan(model, using, columns)
    attnames = [attname for attname, _c, _e in plan]
    size = conf.delivery_batch_size()
    select = (
        f"SELECT {qn('rowsync_seq')}, {qn('rowsync_context')}, "
        + ", ".join(qn(c) for c in columns)
        + f" FROM {qn(box.inbox)} WHERE {where} AND {qn('rowsync_seq')} > %s "
        f"AND {qn('rowsync_seq')} <= %s ORDER BY {qn('rowsync_seq')} LIMIT {int(size)}"
    )
    delete = (
        f"DELETE FROM {qn(box.inbox)} WHERE {where} AND {qn('rowsync_seq')} > %s "
        f"AND {qn('rowsync_seq')} <= %s"
    )
    bad: list[int] = []
    after = first
    while after < last:
        # Keyset batches: sequence numbers have gaps (rows moved out, other sessions).
        with connection.cursor() as cursor:
            cursor.execute(select, [*params, after, last])
            rows = cursor.fetchall()
        if not rows:
            break
        upto = int(rows[-1][0])
        # Receivers may connect init receivers at any time: ask once per batch.
        fast = fast_rebuild_ok(model)
        done_bad = len(bad)
        for seq, ctx_raw, *raw in rows:
            try:
                values = [
                    _convert(value, converters, expression, connection)
                    for value, (_a, converters, expression) in zip(raw, plan, strict=True)
                ]
            except (ValidationError, ValueError, TypeError):
                bad.append(seq)
                continue
            if fast:
                instance = _new_instance(model, attnames, values, using)
            else:
                instance = model.from_db(using, attnames, values)
            if ctx_raw is None:
                ctx_raw = context
            ctx = _load_json(ctx_raw) if ctx_raw is not None else None
            instance._rowsync_context = ctx  # type: ignore[attr-defined]
            _identity_discard(model, instance.pk, using)
            token = context_module.push_event_context(ctx)
            try:
                if receivers is None:
                    post_delete.send(sender=model, instance=instance, using=using, origin=origin)
                else:
                    for receiver in receivers:
                        receiver(
                            signal=post_delete,
                            sender=model,
                            instance=instance,
                            using=using,
                            origin=origin,
                        )
            finally:
                context_module.pop_event_context(token)
        with connection.cursor() as cursor:
            if len(bad) == done_bad:
                cursor.execute(delete, [*params, after, upto])
            else:
                marks = ", ".join(["%s"] * (len(bad) - done_bad))
                cursor.execute(
                    delete + f" AND {qn('rowsync_seq')} NOT IN ({marks})",
                    [*params, after, upto, *bad[done_bad:]],
                )
        after = upto
    return bad


def _convert(
    value: Any, converters: list[Callable[..., Any]], expression: Any, connection: Any
) -> Any:
    for converter in converters:
        value = converter(value, expression, connection)
    return value
