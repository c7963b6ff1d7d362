"""Which models are captured, and which models a delete may reach through the database.

A model is captured when the ``ROWSYNC_CAPTURE`` setting names it (``"__all__"``,
``"app_label"`` or ``"app_label.ModelName"``) or when it declares::

    class Article(models.Model):
        class RowsyncMeta:
            capture = True                  # False opts out of ROWSYNC_CAPTURE
            capture_exclude = ["secret"]    # sensitive fields left out of the row image
            delivery = "on_commit"          # this model's delivery mode

What the capture triggers of a captured model record is :mod:`rowsync.events.capture`'s
question (which re-exports these names).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.db import models
from django.db.models import ForeignObjectRel

from rowsync import conf
from rowsync.events.plan import MODES
from rowsync.selection import selects

__all__ = [
    "DELIVERY_MODES",
    "capture_requested",
    "captured_models",
    "cascade_closure",
    "db_action",
    "excluded_fields",
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
