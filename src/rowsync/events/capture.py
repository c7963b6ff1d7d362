"""What the capture triggers of a table must record: its :class:`CaptureSpec`.

This module computes a :class:`CaptureSpec` (tables, columns, FK graph) from the model;
the SQL itself comes from :mod:`rowsync.backends`. Which models are captured is
:mod:`rowsync.events.captured` (its names are re-exported here).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import models

from rowsync.backends import PRE_CASCADE_DEPTH
from rowsync.events.captured import (
    DELIVERY_MODES,
    _capturable,
    capture_requested,
    captured_models,
    cascade_closure,
    db_action,
    excluded_fields,
    is_captured,
    may_record,
    model_option,
    reverse_relations,
)
from rowsync.schema import object_name

__all__ = [
    "DELIVERY_MODES",
    "CaptureSpec",
    "CascadeEdge",
    "ImageColumn",
    "SetColumn",
    "capture_requested",
    "capture_spec",
    "captured_models",
    "cascade_closure",
    "db_action",
    "excluded_fields",
    "inbox_table",
    "is_captured",
    "may_record",
    "model_option",
    "reverse_relations",
]


@dataclass(frozen=True)
class ImageColumn:
    """One column of a row image.

    Attributes:
        column: Column name.
        kind: ``"value"``, ``"binary"`` (rendered as hex) or ``"json"``.
        internal: Django's internal type of the field (a foreign key's is its target
            field's); backends that copy rows into typed inbox tables choose the column
            type from it.
    """

    column: str
    kind: str = "value"
    internal: str = ""


@dataclass(frozen=True)
class CascadeEdge:
    """An FK that the database acts on when a parent row is deleted.

    Attributes:
        child: Spec of the child model (its table, image, label).
        column: FK column on the child table.
        parent_column: Referenced column on the parent table.
        action: ``"CASCADE"``, ``"SET NULL"`` or ``"SET DEFAULT"``.
        below: The edges under the child (cascades continue there).
    """

    child: CaptureSpec
    column: str
    parent_column: str
    action: str
    below: tuple[CascadeEdge, ...] = ()


@dataclass(frozen=True)
class SetColumn:
    """A foreign key that rowsync's own trigger sets to a value (``DB_SET``, ``DB_SET_DEFAULT``).

    Engines whose FK actions fire no triggers (MariaDB) record the change next to that
    trigger, with the same value.

    Attributes:
        column: FK column on the captured table.
        parent_table: The referenced table (the trigger is on it).
        parent_column: The referenced column.
        value: The value as declared (a constant or an expression).
        action_object: Name of rowsync's on_delete object that does the update.
    """

    column: str
    parent_table: str
    parent_column: str
    value: Any
    action_object: str


@dataclass(frozen=True)
class CaptureSpec:
    """Everything a backend needs to write the capture triggers of one table.

    Attributes:
        model_label: ``app_label.model_name`` stored in each event.
        table: The model's table.
        pk_column: Primary-key column.
        columns: Columns of the row image (sensitive ones left out).
        fk_columns: ``(column, parent table, parent column)`` of every FK with a
            database action: rows changed by ``SET NULL``/``SET DEFAULT`` are recorded.
        captured: Whether the table's own deletes are recorded (False for a parent that
            only needs a MariaDB pre-cascade trigger).
        cascades: FK edges into captured tables that the database follows when a row of
            this table is deleted (used where FK actions fire no triggers).
        excluded_columns: Columns of sensitive fields, left out of the image.
        inbox: The table the capture triggers copy deleted rows into, on engines with
            inbox tables (see :mod:`rowsync.events.inbox`).
        set_columns: The FKs rowsync's own trigger sets to a value (not NULL).
    """

    model_label: str
    table: str
    pk_column: str
    columns: tuple[ImageColumn, ...]
    fk_columns: tuple[tuple[str, str, str], ...] = ()
    captured: bool = True
    cascades: tuple[CascadeEdge, ...] = field(default=())
    excluded_columns: tuple[str, ...] = ()
    inbox: str = ""
    set_columns: tuple[SetColumn, ...] = ()


def inbox_table(table: str) -> str:
    """Return the name of the inbox table of captured table ``table``."""
    return object_name("cb", table)


def _internal_type(f: models.Field[Any, Any]) -> str:
    seen = 0
    while isinstance(f, models.ForeignKey) and seen < 10:
        f = f.target_field
        seen += 1
    return str(f.get_internal_type())


def _image(model: type[models.Model]) -> tuple[ImageColumn, ...]:
    exclude = excluded_fields(model)
    out: list[ImageColumn] = []
    pk = model._meta.pk
    # The table's own columns: a multi-table inheritance child's parent columns live in
    # the parent's table (and the parent's row image).
    for f in model._meta.local_concrete_fields:
        if f.name in exclude and f is not pk:
            continue
        if isinstance(f, models.BinaryField):
            kind = "binary"
        elif isinstance(f, models.JSONField):
            kind = "json"
        else:
            kind = "value"
        out.append(ImageColumn(f.column, kind, _internal_type(f)))
    return tuple(out)


def _action_fks(model: type[models.Model]) -> Iterator[tuple[models.ForeignKey[Any, Any], str]]:
    for f in model._meta.local_concrete_fields:
        if isinstance(f, models.ForeignKey):
            action = db_action(f)
            if action is not None:
                yield f, action


def _set_columns(model: type[models.Model]) -> tuple[SetColumn, ...]:
    """Return the FKs of ``model`` that rowsync's on_delete sets to a value in a trigger."""
    from rowsync.ondelete import trigger_set_values

    values = trigger_set_values(model)
    out: list[SetColumn] = []
    for f, action in _action_fks(model):
        if action != "SET DEFAULT" or f not in values:
            continue
        out.append(
            SetColumn(
                column=f.column,
                parent_table=f.related_model._meta.db_table,  # type: ignore[union-attr]
                parent_column=f.target_field.column,
                value=values[f],
                # rowsync.ondelete.compile names the object of a field like this.
                action_object=object_name("od", model._meta.db_table, f.column),
            )
        )
    return tuple(out)


def _edges(
    model: type[models.Model], seen: frozenset[type[models.Model]], depth: int
) -> tuple[CascadeEdge, ...]:
    """Return the DB-action edges from ``model`` that reach captured tables."""
    if depth <= 0:
        return ()
    out: list[CascadeEdge] = []
    for rel in reverse_relations(model):
        fk = rel.field
        child = rel.related_model
        if not isinstance(fk, models.ForeignKey) or not isinstance(child, type):
            continue
        if not fk.concrete or child._meta.proxy:
            continue
        action = db_action(fk)
        if action is None:
            continue
        below: tuple[CascadeEdge, ...] = ()
        if action == "CASCADE" and child not in seen:
            below = _edges(child, seen | {child}, depth - 1)
        if not is_captured(child) and not below:
            continue
        out.append(
            CascadeEdge(
                child=_spec(child, with_cascades=False),
                column=fk.column,
                parent_column=fk.target_field.column,
                action=action,
                below=below,
            )
        )
    return tuple(out)


def _spec(
    model: type[models.Model], *, with_cascades: bool, depth: int = PRE_CASCADE_DEPTH
) -> CaptureSpec:
    opts = model._meta
    assert opts.pk is not None
    fk_columns = tuple(
        (f.column, f.related_model._meta.db_table, f.target_field.column)  # type: ignore[union-attr]
        for f, action in _action_fks(model)
        if action in {"SET NULL", "SET DEFAULT"}
    )
    return CaptureSpec(
        model_label=opts.label_lower,
        table=opts.db_table,
        pk_column=opts.pk.column,
        columns=_image(model),
        fk_columns=fk_columns,
        captured=is_captured(model),
        cascades=_edges(model, frozenset({model}), depth) if with_cascades else (),
        inbox=inbox_table(opts.db_table),
        set_columns=_set_columns(model) if with_cascades else (),
        excluded_columns=tuple(
            sorted(
                f.column
                for f in opts.local_concrete_fields
                if f.name in excluded_fields(model) and f is not opts.pk
            )
        ),
    )


def capture_spec(model: type[models.Model]) -> CaptureSpec | None:
    """Return the capture spec of ``model``, or None when it needs no capture trigger.

    A model needs triggers when it is captured, or when deleting its rows makes the
    database delete or change rows of a captured model (engines whose FK actions fire no
    triggers capture those rows from the parent).
    """
    model = model._meta.concrete_model or model
    if not _capturable(model):
        return None
    spec = _spec(model, with_cascades=True)
    if not spec.captured and not spec.cascades:
        return None
    return spec
