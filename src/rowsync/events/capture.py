"""Which models are captured, and what their capture triggers must record.

A model is captured when the ``ROWSYNC_CAPTURE`` setting names it (``"__all__"``,
``"app_label"`` or ``"app_label.ModelName"``) or when it declares::

    class Article(models.Model):
        class RowsyncMeta:
            capture = True                  # False opts out of ROWSYNC_CAPTURE
            capture_exclude = ["secret"]    # sensitive fields left out of the row image
            delivery = "on_commit"          # this model's delivery mode

This module computes a :class:`CaptureSpec` (tables, columns, FK graph) from the model;
the SQL itself comes from :mod:`rowsync.backends`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import models
from django.db.models import ForeignObjectRel

from rowsync import conf
from rowsync.events.plan import MODES
from rowsync.schema.objects import object_name
from rowsync.selection import selects

__all__ = [
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

#: The delivery modes as the settings spell them (:class:`rowsync.events.plan.Mode`).
DELIVERY_MODES: tuple[str, ...] = tuple(mode.value for mode in MODES)


def _own_meta(model: type[models.Model]) -> Any:
    """Return the ``RowsyncMeta`` that applies to ``model``'s own table, or None.

    Capture is per table: the class declared on the model itself, or on an abstract
    base (which has no table of its own). A multi-table inheritance child does not get
    its concrete parent's ``RowsyncMeta`` through Python's attribute lookup: it
    declares its own (``class RowsyncMeta(Parent.RowsyncMeta): ...`` to share it).
    """
    table_model = model._meta.concrete_model or model  # a proxy reads its model's
    for klass in model.__mro__:
        if klass is not model and klass is not table_model and issubclass(klass, models.Model):
            opts = getattr(klass, "_meta", None)
            if opts is not None and not opts.abstract:
                return None  # a concrete parent: its options are its table's
        meta = klass.__dict__.get("RowsyncMeta")
        if meta is not None:
            return meta
    return None


def _current_model(model: type[models.Model]) -> type[models.Model]:
    """Return the installed model behind ``model`` (migration states hold stand-ins).

    The migration autodetector compiles triggers from historical models, which keep
    fields but not the ``RowsyncMeta`` class; the options come from the installed model.
    """
    if _own_meta(model) is not None:
        return model
    try:
        return apps.get_model(model._meta.label)
    except LookupError:
        return model


def model_option(model: type[models.Model], name: str, default: Any = None) -> Any:
    """Return the ``RowsyncMeta`` option ``name`` of ``model``.

    The model's own ``RowsyncMeta`` (or an abstract base's) is read, never the one of a
    concrete (multi-table inheritance) parent: see :func:`_own_meta`.
    """
    meta = _own_meta(_current_model(model))
    return getattr(meta, name, default) if meta is not None else default


def _has_table(model: type[models.Model]) -> bool:
    opts = model._meta
    return not (opts.abstract or opts.proxy or opts.auto_created) and opts.pk is not None


def _capturable(model: type[models.Model]) -> bool:
    # A composite primary key has no single column to name the row in an event, nor
    # one value to rebuild it from: refused (rowsync.E170), never half captured.
    return _has_table(model) and not model._meta.is_composite_pk


def is_captured(model: type[models.Model]) -> bool:
    """Return whether rowsync records the rows the database deletes from ``model``'s table.

    ``RowsyncMeta.capture`` wins over ``ROWSYNC_CAPTURE``. Proxy, abstract and
    auto-created (many-to-many through) models are never captured (Django sends no
    signals for auto-created models either), nor rowsync's own (``"__all__"`` leaves
    them out); unmanaged ones only by ``RowsyncMeta``. Models with a composite primary
    key are never captured either (``rowsync.E170`` says so when one is asked for).
    """
    model = model._meta.concrete_model or model
    return _capturable(model) and capture_requested(model)


def capture_requested(model: type[models.Model]) -> bool:
    """Return whether ``RowsyncMeta.capture`` or ``ROWSYNC_CAPTURE`` asks to capture ``model``.

    Whether the model can be captured is :func:`is_captured`'s question.
    """
    if not _has_table(model):
        return False
    option = model_option(model, "capture")
    if option is not None:
        return bool(option)
    # Unmanaged tables are only captured when the model asks for it explicitly.
    return model._meta.managed and selects(conf.capture_selection(), model, conf.capture_exclude())


def captured_models() -> list[type[models.Model]]:
    """Return every installed model that is captured."""
    return [m for m in apps.get_models() if is_captured(m)]


def cascade_closure(
    start: Iterable[type[models.Model]], *, changed: bool = False
) -> set[type[models.Model]]:
    """Return ``start`` and every model the database may delete rows of when they lose rows.

    Args:
        start: The models a delete removes rows of.
        changed: Also return the models whose rows the database updates on the way
            (``SET NULL``/``SET DEFAULT`` foreign keys).
    """
    seen: set[type[models.Model]] = set()
    stack = [m._meta.concrete_model or m for m in start]
    while stack:
        model = stack.pop()
        if model in seen:
            continue
        seen.add(model)
        for rel in reverse_relations(model):
            child = rel.related_model
            if not isinstance(child, type) or not isinstance(rel.field, models.ForeignKey):
                continue
            action = db_action(rel.field)
            # DO_NOTHING leaves the rows to the database, which may cascade (an FK
            # declared outside Django's models).
            if action == "CASCADE" or rel.on_delete is models.DO_NOTHING:
                stack.append(child._meta.concrete_model or child)
            elif changed and action is not None:
                seen.add(child._meta.concrete_model or child)
    return seen


# {(ROWSYNC_CAPTURE and its exclusions, models a delete removes rows of): may it record?}
_MAY_RECORD: dict[tuple[str, frozenset[type[models.Model]]], bool] = {}


def may_record(start: Iterable[type[models.Model]]) -> bool:
    """Return whether deleting rows of the models ``start`` may fire a capture trigger.

    False when no captured model is among them or below them through a foreign key the
    database acts on: such a delete needs no capture session (it runs Django's queries).
    """
    wanted = frozenset(start)
    if not wanted:
        return False
    key = (repr((conf.capture_selection(), conf.capture_exclude())), wanted)
    found = _MAY_RECORD.get(key)
    if found is None:
        found = _MAY_RECORD[key] = any(
            is_captured(m) for m in cascade_closure(wanted, changed=True)
        )
    return found


def excluded_fields(model: type[models.Model]) -> frozenset[str]:
    """Return the names of the fields left out of ``model``'s row images (never the pk)."""
    names = model_option(model, "capture_exclude", ()) or ()
    return frozenset(names)


def db_action(fk: models.ForeignKey[Any, Any]) -> str | None:
    """Return the SQL ``ON DELETE`` action the database performs for ``fk``, if any.

    Knows Django 6.1's ``DB_CASCADE``/``DB_SET_NULL``/``DB_SET_DEFAULT`` and rowsync's
    database-enforced on_delete (``rowsync.ondelete.db_action`` when it is available).

    Returns:
        ``"CASCADE"``, ``"SET NULL"``, ``"SET DEFAULT"``, or None when Django (or nothing)
        handles the delete in Python.
    """
    if not getattr(fk, "db_constraint", True):
        return None
    from rowsync import ondelete

    hook = getattr(ondelete, "db_action", None)
    if hook is not None:
        action = hook(fk)
        if action:
            return str(action)
    operation = getattr(fk.remote_field.on_delete, "operation", None)
    # Django >= 6.1: DatabaseOnDelete("CASCADE" | "SET NULL" | "SET DEFAULT", ...)
    if isinstance(operation, str) and operation in {"CASCADE", "SET NULL", "SET DEFAULT"}:
        return operation
    return None


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
    try:
        from rowsync.ondelete import actions
        from rowsync.ondelete.plan import model_plan
    except ImportError:  # pragma: no cover - the events part used alone
        return ()
    behaviours = model_plan(model).behaviours
    out: list[SetColumn] = []
    for f, action in _action_fks(model):
        behaviour = behaviours.get(f)
        if (
            action != "SET DEFAULT"
            or behaviour is None
            or behaviour.operation not in (actions.SET, actions.SET_DEFAULT)
            or not behaviour.rowsync_compiles
            or not behaviour.supported
        ):
            continue
        out.append(
            SetColumn(
                column=f.column,
                parent_table=f.related_model._meta.db_table,  # type: ignore[union-attr]
                parent_column=f.target_field.column,
                value=behaviour.value,
                # rowsync.ondelete.compile names the object of a field like this.
                action_object=object_name("od", model._meta.db_table, f.column),
            )
        )
    return tuple(out)


def reverse_relations(model: type[models.Model]) -> list[ForeignObjectRel]:
    """Return every relation pointing at ``model``'s table, hidden ones included.

    ``_meta.related_objects`` leaves out foreign keys declared with ``related_name="+"``
    (or ending in ``+``), yet the database acts on them like on any other: cascades and
    ``SET NULL`` through them remove or change rows that must be captured. A multi-table
    inheritance child's list holds the relations to its own table only (its parents'
    point at their tables).
    """
    return [
        f
        for f in model._meta.get_fields(include_parents=False, include_hidden=True)
        if isinstance(f, ForeignObjectRel) and (f.one_to_many or f.one_to_one)
    ]


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


def _spec(model: type[models.Model], *, with_cascades: bool, depth: int = 15) -> CaptureSpec:
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
