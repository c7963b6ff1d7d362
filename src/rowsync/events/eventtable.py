"""Every read and write in-process delivery makes on the event table (``rowsync_deleted_row``).

The functions take plain values (alias, id range, claim) and return plain values: the
capture session (:mod:`rowsync.events.session`) owns the state they are called with.
The SQL text comes from the backend (``events_*_sql()``); the worker's queries on the
same table are in :mod:`rowsync.events.claim`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import connections

from rowsync.backends import BaseBackend, get_backend
from rowsync.events.dispatch import EventRecord

__all__ = [
    "ceiling",
    "delete_ids",
    "delete_range",
    "drop_signalled",
    "lock_range",
    "mark_delivered_through",
    "next_id",
    "read_batch",
    "stamp",
    "stamp_ids",
    "stamp_range",
]

#: Columns of an :class:`~rowsync.events.dispatch.EventRecord`, in order.
COLUMNS = (
    '"id", "model_label", "table_name", "op", "row", "changes", "context", "pk_text", '
    '"delivered_through"'
)

#: Most parameters one ``IN (...)`` list takes (SQLite's older limit is 999).
CHUNK = 500


def _backend(using: str) -> BaseBackend:
    return get_backend(connections[using])


def _one(using: str, sql: str, params: list[Any]) -> int | None:
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else None


def ceiling(using: str) -> int:
    """Return the highest event id (0 for an empty table)."""
    return _one(using, _backend(using).events_max_id_sql(), []) or 0


def next_id(using: str, after: int) -> int | None:
    """Return the lowest event id above ``after`` (skips gaps between id ranges)."""
    return _one(using, _backend(using).events_max_id_sql(above=True), [after])


def read_batch(using: str, claim: str, after: int, upto: int) -> list[EventRecord]:
    """Read the events claimed ``claim`` with ``after < id <= upto``, in id order.

    A range on the primary key, not ``ORDER BY id LIMIT n``: PostgreSQL's planner has no
    statistics for a claim token written a moment ago and chose a full scan and a sort
    for every batch (quadratic in the number of events).
    """
    sql = _backend(using).events_range_sql(f"SELECT {COLUMNS}") + ' ORDER BY "id"'
    with connections[using].cursor() as cursor:
        cursor.execute(_backend(using).requote(sql), [after, upto, claim])
        return [EventRecord(*r) for r in cursor.fetchall()]


def delete_range(using: str, claim: str, after: int, upto: int) -> None:
    """Delete the events claimed ``claim`` with ``after < id <= upto``."""
    with connections[using].cursor() as cursor:
        cursor.execute(_backend(using).events_range_sql("DELETE"), [after, upto, claim])


def _by_ids(using: str, head: str, ids: list[int], params: list[Any]) -> None:
    # One statement per batch: ids come in at most ROWSYNC_DELIVERY_BATCH_SIZE.
    if not ids:
        return
    with connections[using].cursor() as cursor:
        cursor.execute(_backend(using).events_by_ids_sql(head, len(ids)), [*params, *ids])


def delete_ids(using: str, ids: list[int]) -> None:
    """Delete the events ``ids``."""
    _by_ids(using, 'DELETE FROM "rowsync_deleted_row"', ids, [])


def mark_delivered_through(using: str, ids: list[int], phase: str) -> None:
    """Record that phase ``phase`` called receivers of the events ``ids``."""
    head = 'UPDATE "rowsync_deleted_row" SET "delivered_through" = %s'
    _by_ids(using, head, ids, [phase])


def stamp(
    using: str,
    where: str,
    params: list[Any],
    *,
    claim: str,
    lease: int | None,
    context: str | None,
) -> None:
    """Set claim and lease of the events ``where`` selects, and the context they lack.

    Engines whose triggers stamp later (``capture_stamps_later``) set all three; the
    others wrote lease and context already and only take a claim (never a lease).

    Raises:
        ValueError: a lease on an engine whose triggers stamp it.
    """
    backend = _backend(using)
    if backend.capture_stamps_later:
        sql, head = backend.capture_stamp_sql(where, claim, lease, context)
    else:
        if lease is not None:
            raise ValueError("a lease is stamped by the capture triggers on this engine")
        sql, head = backend.events_claim_sql(where), [claim]
    with connections[using].cursor() as cursor:
        cursor.execute(sql, [*head, *params])


def stamp_range(
    using: str, claim: str, after: int, upto: int, *, to: str, lease: int | None, context: Any
) -> None:
    """Give the events claimed ``claim`` in ``(after, upto]`` the claim ``to`` (:func:`stamp`)."""
    where = _backend(using).requote('"id" > %s AND "id" <= %s AND "claimed_by" = %s')
    stamp(using, where, [after, upto, claim], claim=to, lease=lease, context=context)


def stamp_ids(
    using: str, ids: list[int], *, claim: str, lease: int | None, context: str | None
) -> None:
    """Give the events ``ids`` (one batch) a claim and lease (see :func:`stamp`)."""
    if not ids:
        return
    where = _backend(using).requote('"id" IN (' + ", ".join(["%s"] * len(ids)) + ")")
    stamp(using, where, ids, claim=claim, lease=lease, context=context)


def drop_signalled(
    using: str, claim: str, floor: int, signalled: Iterable[tuple[str, str]]
) -> None:
    """Delete the events of rows ``{(model label, pk text)}`` that Django signalled itself."""
    # {model label: [pk text]}
    by_label: dict[str, list[str]] = {}
    for label, pk_text in signalled:
        by_label.setdefault(label, []).append(pk_text)
    backend = _backend(using)
    with connections[using].cursor() as cursor:
        for label, pks in by_label.items():
            for start in range(0, len(pks), CHUNK):
                chunk = pks[start : start + CHUNK]
                cursor.execute(
                    backend.events_drop_signalled_sql(len(chunk)), [floor, claim, label, *chunk]
                )


def lock_range(using: str, claim: str, after: int, upto: int) -> None:
    """Lock the events claimed ``claim`` in ``(after, upto]`` (no-op without row locks)."""
    backend = _backend(using)
    where = backend.requote('"id" > %s AND "id" <= %s AND "claimed_by" = %s')
    sql = backend.rows_lock_sql("rowsync_deleted_row", where)
    if sql is None:
        return
    with connections[using].cursor() as cursor:
        cursor.execute(sql, [after, upto, claim])
        cursor.fetchall()
