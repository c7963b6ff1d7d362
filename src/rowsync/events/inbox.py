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
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connections, models

from rowsync import conf
from rowsync.backends import get_backend, is_supported, vendor_of
from rowsync.events.capture import CaptureSpec, _spec, captured_models, cascade_closure

__all__ = [
    "ceilings",
    "clear",
    "forget_tables",
    "include_in_flush",
    "move",
    "move_free",
    "pending_count",
    "present",
    "reachable",
    "specs",
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


def ceilings(using: str, boxes: Sequence[CaptureSpec]) -> dict[str, int]:
    """Return ``{inbox: highest rowsync_seq}`` of ``boxes`` (0 when empty), in one query."""
    if not boxes:
        return {}
    seq = _qn(using, "rowsync_seq")
    sql = "SELECT " + ", ".join(
        f"(SELECT COALESCE(MAX({seq}), 0) FROM {_qn(using, box.inbox)})" for box in boxes
    )
    with connections[using].cursor() as cursor:
        cursor.execute(sql)
        row = cursor.fetchone()
    return {box.inbox: int(value) for box, value in zip(boxes, row or (), strict=True)}


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


def pending_count(using: str) -> int:
    """Return how many rows wait in the inboxes of database ``using``."""
    boxes = present(using, specs(using))
    if not boxes:
        return 0
    sql = "SELECT " + " + ".join(
        f"(SELECT COUNT(*) FROM {_qn(using, box.inbox)})" for box in boxes
    )
    with connections[using].cursor() as cursor:
        cursor.execute(sql)
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def clear(using: str) -> None:
    """Empty every inbox of database ``using`` (tests; the rows are not delivered)."""
    with connections[using].cursor() as cursor:
        for box in present(using, specs(using)):
            cursor.execute(f"DELETE FROM {_qn(using, box.inbox)}")


def include_in_flush() -> None:
    """Make Django's ``flush`` (and ``TransactionTestCase``) empty the inboxes too.

    ``flush`` empties the tables ``introspection.django_table_names(only_existing=True)``
    lists: the models' tables, ``rowsync_deleted_row`` included, but not the inboxes,
    which no model owns. The wrapper adds the inboxes that exist (idempotent).
    """
    from django.db.backends.base.introspection import BaseDatabaseIntrospection

    current = BaseDatabaseIntrospection.django_table_names
    if getattr(current, "_rowsync_inboxes", False):
        return

    def django_table_names(
        self: BaseDatabaseIntrospection, only_existing: bool = False, include_views: bool = True
    ) -> list[str]:
        names = list(current(self, only_existing, include_views))
        if only_existing:
            boxes = [box.inbox for box in specs(self.connection.alias)]
            if boxes:
                existing = set(self.table_names())
                names += [name for name in boxes if name in existing and name not in names]
        return names

    django_table_names._rowsync_inboxes = True  # type: ignore[attr-defined]
    BaseDatabaseIntrospection.django_table_names = django_table_names  # type: ignore[method-assign]
