"""Inbox tables: where the delete triggers of a captured table copy the rows it loses.

On engines with ``capture_inbox`` (SQLite, PostgreSQL) each captured table has an inbox
table, ``rowsync_cb_<table>_<hash5>``, created by its migration next to the triggers:
the image columns typed after the table's own, plus ``rowsync_seq`` (order), the
transaction id, the actor context, and the claim and lease of the process that will
deliver the rows. Copying a row, typed, is the cheapest write a trigger can make (no JSON
per row), so a database-side delete costs little more than without capture.

The event table (``rowsync.models.DeletedRow``) stays the one queue that workers claim,
retry, dead-letter and replay from. Rows move from the inboxes into it, as JSON row
images, with one ``INSERT ... SELECT`` per inbox:

* in-process delivery moves the rows of its own delete (its sequence range and claim);
* a worker moves rows nobody holds (no claim, or a lease that ran out) before claiming;
* removing an inbox (a changed model) moves what it still holds first.

MariaDB/MySQL capture rows before the cascade, from the parent's triggers, straight into
the event table (no inboxes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import connections, models

from rowsync import conf
from rowsync.backends import get_backend, is_supported, vendor_of
from rowsync.events.capture import CaptureSpec, _spec, captured_models, cascade_closure

__all__ = [
    "ceilings",
    "clear",
    "counts",
    "drop_signalled",
    "forget_tables",
    "holding",
    "holding_and_queue",
    "lock",
    "move",
    "move_free",
    "pending_count",
    "present",
    "reachable",
    "specs",
    "stamp",
]

# {(vendor, ROWSYNC_CAPTURE): specs of the captured tables}
_SPECS: dict[tuple[str, str], tuple[CaptureSpec, ...]] = {}


#: Seconds a process trusts its list of the inbox tables that exist.
PRESENT_TTL = 60.0

# {(alias, database name): (when listed, table names)}
_PRESENT: dict[tuple[str, str], tuple[float, frozenset[str]]] = {}


def _present(using: str) -> frozenset[str]:
    connection = connections[using]
    key = (using, str(connection.settings_dict.get("NAME")))
    now = time.monotonic()
    entry = _PRESENT.get(key)
    if entry is None or now - entry[0] > PRESENT_TTL:
        entry = _PRESENT[key] = (now, frozenset(connection.introspection.table_names()))
    return entry[1]


def forget_tables(**kwargs: Any) -> None:
    """Forget which inbox tables exist (``post_migrate`` receiver: a migration may add some)."""
    _PRESENT.clear()


def present(using: str, boxes: Sequence[CaptureSpec]) -> tuple[CaptureSpec, ...]:
    """Return the ``boxes`` whose inbox table exists.

    A model captured before its migration ran has triggers and inbox yet to come: it is
    left out (nothing is captured for it yet), instead of making every delete and every
    worker fail. The list is read again after ``migrate`` and every :data:`PRESENT_TTL`
    seconds (``migrate`` run by another process).
    """
    if not boxes:
        return ()
    tables = _present(using)
    return tuple(box for box in boxes if box.inbox in tables)


def specs(using: str) -> tuple[CaptureSpec, ...]:
    """Return the capture specs of the tables with an inbox on database ``using``.

    Every captured model's, whether its inbox exists yet or not (see :func:`present`).
    """
    connection = connections[using]
    if not is_supported(connection) or not get_backend(connection).capture_inbox:
        return ()
    key = (vendor_of(connection), repr((conf.capture_selection(), conf.capture_exclude())))
    found = _SPECS.get(key)
    if found is None:
        found = _SPECS[key] = tuple(
            _spec(model, with_cascades=False) for model in captured_models()
        )
    return found


# {(vendor, ROWSYNC_CAPTURE, models): the inboxes a delete of those models may fill}
_REACHABLE: dict[tuple[str, str, frozenset[type[models.Model]]], tuple[CaptureSpec, ...]] = {}


def reachable(using: str, start: Iterable[type[models.Model]]) -> tuple[CaptureSpec, ...]:
    """Return the inboxes that deleting rows of the models ``start`` may write into.

    The models themselves and every model below them through a foreign key the database
    acts on: rowsync's and Django's ``DB_CASCADE``, and ``DO_NOTHING`` (the database may
    cascade where Django's models do not say so).
    """
    boxes = specs(using)
    if not boxes:
        return ()
    wanted = frozenset(start)
    selection = repr((conf.capture_selection(), conf.capture_exclude()))
    key = (vendor_of(connections[using]), selection, wanted)
    found = _REACHABLE.get(key)
    if found is None:
        labels = {m._meta.label_lower for m in cascade_closure(wanted)}
        found = _REACHABLE[key] = tuple(b for b in boxes if b.model_label in labels)
    return present(using, found)


def _qn(using: str, name: str) -> str:
    return str(connections[using].ops.quote_name(name))


def _one_row(using: str, sql: str) -> tuple[Any, ...]:
    with connections[using].cursor() as cursor:
        cursor.execute(sql)
        return tuple(cursor.fetchone() or ())


def ceilings(using: str, boxes: Sequence[CaptureSpec]) -> dict[str, int]:
    """Return ``{inbox: highest rowsync_seq}`` of ``boxes`` (0 when empty), in one query."""
    if not boxes:
        return {}
    row = _one_row(using, get_backend(connections[using]).inbox_ceilings_sql(boxes))
    return {box.inbox: int(value) for box, value in zip(boxes, row, strict=True)}


# --- the session side: one capture session's rows, selected by ``where`` -------------------


def drop_signalled(
    using: str,
    boxes: Sequence[CaptureSpec],
    rows_of: Callable[[CaptureSpec], tuple[str, list[Any]]],
    signalled: Iterable[tuple[str, str]],
) -> None:
    """Delete the rows ``{(model label, pk text)}`` (Django signalled them) from ``boxes``.

    Args:
        using: Database alias.
        boxes: The inboxes.
        rows_of: Returns the condition selecting the session's rows of an inbox.
        signalled: The rows Django's collector sent ``post_delete`` for.
    """
    # {model label: [pk text]}
    by_label: dict[str, list[str]] = {}
    for label, pk_text in signalled:
        by_label.setdefault(label, []).append(pk_text)
    backend = get_backend(connections[using])
    with connections[using].cursor() as cursor:
        for box in boxes:
            pks = by_label.get(box.model_label)
            if not pks:
                continue
            where, params = rows_of(box)
            for start in range(0, len(pks), 500):
                chunk = pks[start : start + 500]
                cursor.execute(
                    backend.inbox_delete_sql(box, where, pks=len(chunk)), [*params, *chunk]
                )


def stamp(
    using: str,
    box: CaptureSpec,
    where: str,
    params: Sequence[Any],
    claim: str,
    lease: int | None,
    context: str | None,
) -> None:
    """Give the rows ``where`` of ``box`` a claim, lease and missing context."""
    sql = get_backend(connections[using]).inbox_stamp_sql(box, where)
    with connections[using].cursor() as cursor:
        cursor.execute(sql, [claim, lease, lease, context, *params])


def lock(using: str, box: CaptureSpec, where: str, params: Sequence[Any]) -> None:
    """Lock the rows ``where`` of ``box`` until the transaction ends (no-op without locks)."""
    sql = get_backend(connections[using]).rows_lock_sql(box.inbox, where)
    if sql is None:
        return
    with connections[using].cursor() as cursor:
        cursor.execute(sql, list(params))
        cursor.fetchall()


# --- moving rows into the event table ------------------------------------------------------


def move(
    using: str,
    box: CaptureSpec,
    where: str,
    params: Sequence[Any],
    *,
    limit: int | None = None,
) -> int:
    """Move the rows of ``box``'s inbox that ``where`` selects into the event table.

    Returns:
        How many rows moved.
    """
    backend = get_backend(connections[using])
    moved = 0
    with connections[using].cursor() as cursor:
        for index, (sql, times) in enumerate(backend.inbox_move_sql(box, where, limit)):
            cursor.execute(sql, list(params) * times)
            if index == 0:
                moved = max(cursor.rowcount, 0)
    return moved


def move_free(using: str, limit: int, boxes: Sequence[CaptureSpec] | None = None) -> int:
    """Move up to ``limit`` rows nobody holds, oldest first per inbox. Call inside ``atomic``.

    Args:
        using: Database alias.
        limit: Most rows to move.
        boxes: The inboxes (default: every one that exists). Workers list them before
            the transaction: on SQLite its first statement must be the write (a read
            first makes a concurrent writer's lock fail at once instead of waiting).
    """
    if boxes is None:
        boxes = present(using, specs(using))
    if not boxes:
        return 0
    free = get_backend(connections[using]).inbox_free_sql()
    moved = 0
    for box in boxes:
        if moved >= limit:
            break
        moved += move(using, box, free, (), limit=limit - moved)
    return moved


def holding(using: str, boxes: Sequence[CaptureSpec]) -> tuple[CaptureSpec, ...]:
    """Return the ``boxes`` that hold rows a worker may move, asked in one query.

    Run outside the worker's refill transaction (on SQLite its first statement must be
    the write). A row another worker is moving may still be seen: the move skips it.
    """
    if not boxes:
        return ()
    backend = get_backend(connections[using])
    with connections[using].cursor() as cursor:
        # With parameters: "%%" in the condition means "%".
        backend.execute_often(cursor, backend.inbox_holding_sql(boxes))
        row = cursor.fetchone() or ()
    return tuple(box for box, flag in zip(boxes, row, strict=True) if flag)


def holding_and_queue(
    using: str, boxes: Sequence[CaptureSpec]
) -> tuple[tuple[CaptureSpec, ...], bool]:
    """Return :func:`holding`'s inboxes and whether the event table holds a pending event.

    One query (``inbox_holding_queue_sql``), run outside a transaction.
    """
    backend = get_backend(connections[using])
    with connections[using].cursor() as cursor:
        # With parameters: "%%" in the condition means "%".
        backend.execute_often(cursor, backend.inbox_holding_queue_sql(boxes))
        *flags, queued = cursor.fetchone() or (1,)
    return tuple(box for box, flag in zip(boxes, flags, strict=True) if flag), bool(queued)


def pending_count(using: str) -> int:
    """Return how many rows wait in the inboxes of database ``using``."""
    # A proxy model's spec names its concrete model's inbox: count each table once.
    boxes = list({box.inbox: box for box in present(using, specs(using))}.values())
    if not boxes:
        return 0
    row = _one_row(using, get_backend(connections[using]).inbox_count_sql(boxes))
    return int(row[0]) if row else 0


def counts(using: str) -> dict[str, int]:
    """Return ``{model label: rows waiting in its inbox}`` on database ``using``, in one query.

    Only models whose inbox exists are listed (none on engines without inboxes). A proxy
    model's spec names its concrete model's inbox: each table is counted once, under the
    model whose spec carries the columns.
    """
    # {inbox table: spec}
    tables = {box.inbox: box for box in present(using, specs(using)) if box.columns}
    boxes = list(tables.values())
    if not boxes:
        return {}
    row = _one_row(using, get_backend(connections[using]).inbox_counts_sql(boxes))
    # {model label: rows}
    found: dict[str, int] = {}
    for box, value in zip(boxes, row, strict=True):
        found[box.model_label] = found.get(box.model_label, 0) + int(value)
    return found


def clear(using: str) -> None:
    """Empty every inbox of database ``using`` (tests; the rows are not delivered)."""
    with connections[using].cursor() as cursor:
        for box in present(using, specs(using)):
            cursor.execute(f"DELETE FROM {_qn(using, box.inbox)}")
