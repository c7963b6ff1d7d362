"""Which foreign keys the database enforces, and how: one plan per app registry.

A foreign key is enforced by the database when

* its ``on_delete`` is one of rowsync's ``DB_*`` values (source ``field``), or one of
  Django 6.1's (source ``django``: Django emits the SQL, rowsync only accounts for it);
* its model is selected by ``ROWSYNC_DB_ON_DELETE`` (source ``setting``): the database
  enforces the Python ``on_delete`` written on it;
* its target's rows can be deleted by the database (source ``chain``): otherwise a
  database cascade into the target would stop there and leave orphans (or fail at
  COMMIT). This covers chains that mix Python and database levels, MTI parent links
  and auto-created M2M through tables.

For ``setting`` and ``chain`` foreign keys Django's Collector keeps doing its Python
work on ORM deletes (signals, counts unchanged); the database covers everything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps.registry import Apps
from django.db import models
from django.db.models import Field, Model
from django.db.models.fields import NOT_PROVIDED

from rowsync import conf
from rowsync.ondelete import actions as a
from rowsync.selection import selects


@dataclass(frozen=True)
class Behaviour:
    """What the database does to one foreign key's rows when their target row goes.

    Attributes:
        operation: One of :data:`rowsync.ondelete.actions.OPERATIONS`.
        source: ``field``, ``django``, ``setting`` or ``chain`` (see module docstring).
        value: The value of SET / SET_DEFAULT (a constant or an expression).
        supported: False when the value cannot run in the database (a callable).
    """

    operation: str
    source: str
    value: object = None
    supported: bool = True

    @property
    def python_skips(self) -> bool:
        """Return whether Django's Collector leaves these rows to the database."""
        return self.source in ("field", "django")

    @property
    def rowsync_compiles(self) -> bool:
        """Return whether rowsync installs objects for it (Django does for its own)."""
        return self.source != "django"


def relation_fields(model: type[Model]) -> list[Any]:
    """Return the concrete ForeignKey/OneToOneField fields declared on ``model``'s table.

    A relation whose target is still a name (a migration state without the target's app,
    as ``migrate <app> --fake`` renders for an app without migrations) is left out: its
    target is unknown, so nothing can be enforced or compiled for it.
    """
    return [
        f
        for f in model._meta.local_fields
        if f.is_relation
        and f.concrete
        and (f.many_to_one or f.one_to_one)
        and not isinstance(getattr(f.remote_field, "model", None), str)
    ]


def _default_value(field: Field[Any, Any]) -> tuple[object, bool]:
    db_default = getattr(field, "db_default", NOT_PROVIDED)
    if db_default is not NOT_PROVIDED:
        return db_default, True
    if not field.has_default():
        return None, False
    if callable(field.default):
        return field.default, False
    return field.get_default(), True


def python_behaviour(field: Any, source: str) -> Behaviour:
    """Return the database form of the Python-level ``on_delete`` of ``field``."""
    on_delete = field.remote_field.on_delete
    if on_delete is models.CASCADE:
        return Behaviour(a.CASCADE, source)
    if on_delete is models.PROTECT:
        return Behaviour(a.PROTECT, source)
    if on_delete is models.RESTRICT:
        return Behaviour(a.RESTRICT, source)
    if on_delete is models.SET_NULL:
        return Behaviour(a.SET_NULL, source)
    if on_delete is models.SET_DEFAULT:
        value, ok = _default_value(field)
        return Behaviour(a.SET_DEFAULT, source, value, ok)
    if on_delete is models.DO_NOTHING:
        return Behaviour(a.DO_NOTHING, source)
    deconstruct = getattr(on_delete, "deconstruct", None)
    if deconstruct is not None and deconstruct()[0] == "django.db.models.SET":
        value = deconstruct()[1][0]
        if value is None:
            return Behaviour(a.SET_NULL, source)
        return Behaviour(a.SET, source, value, not callable(value))
    # A custom callable: nothing the database can do.
    return Behaviour(a.SET, source, on_delete, False)


def field_behaviour(field: Any) -> Behaviour | None:
    """Return the behaviour that ``field``'s own ``on_delete`` asks the database for."""
    on_delete = field.remote_field.on_delete
    if isinstance(on_delete, a.DatabaseSet):
        if on_delete.value is None:
            return Behaviour(a.SET_NULL, "field")
        return Behaviour(a.SET, "field", on_delete.value, on_delete.value_is_supported())
    if isinstance(on_delete, a.DatabaseAction):
        if on_delete.operation == a.SET_DEFAULT:
            value, ok = _default_value(field)
            return Behaviour(a.SET_DEFAULT, "field", value, ok)
        return Behaviour(on_delete.operation, "field")
    operation = a.django_db_operation(on_delete)
    if operation is not None:
        return Behaviour(operation, "django")
    return None


@dataclass
class Plan:
    """The enforced foreign keys of one app registry.

    Attributes:
        behaviours: ``{field: Behaviour}`` for every enforced foreign key.
        deletable: Concrete models whose rows the database can delete (cascades).
        incoming: ``{concrete target model: [enforced fields pointing at it]}``.
    """

    behaviours: dict[Any, Behaviour]
    deletable: set[type[Model]]
    incoming: dict[type[Model], list[Any]]

    def for_model(self, model: type[Model]) -> list[tuple[Any, Behaviour]]:
        """Return ``(field, behaviour)`` for ``model``'s own enforced foreign keys."""
        return [(f, self.behaviours[f]) for f in relation_fields(model) if f in self.behaviours]


def _target(field: Any) -> type[Model]:
    model: type[Model] = field.remote_field.model._meta.concrete_model
    return model


def build_plan(apps: Apps, selection: object) -> Plan:
    """Compute the plan of ``apps`` for the ``ROWSYNC_DB_ON_DELETE`` value ``selection``."""
    fields: list[Any] = []
    for model in apps.get_models(include_auto_created=True):
        opts = model._meta
        if opts.proxy or opts.swapped:
            continue
        fields.extend(relation_fields(model))
    behaviours: dict[Any, Behaviour] = {}
    deletable: set[type[Model]] = set()
    changed = True
    while changed:
        changed = False
        for field in fields:
            if field in behaviours:
                continue
            behaviour = field_behaviour(field)
            if behaviour is None and selection and selects(selection, field.model):  # type: ignore[arg-type]
                behaviour = python_behaviour(field, "setting")
            if behaviour is None and _target(field) in deletable:
                behaviour = python_behaviour(field, "chain")
            if behaviour is None:
                continue
            behaviours[field] = behaviour
            changed = True
            if behaviour.operation == a.CASCADE:
                deletable.add(field.model._meta.concrete_model)
    incoming: dict[type[Model], list[Any]] = {}
    for field in behaviours:
        incoming.setdefault(_target(field), []).append(field)
    return Plan(behaviours, deletable, incoming)


def get_plan(apps: Apps) -> Plan:
    """Return the (cached) plan of ``apps`` for the current settings."""
    selection = conf.db_on_delete_selection()
    models_ = apps.get_models(include_auto_created=True)
    key = (repr(selection), len(models_), id(models_[0]) if models_ else 0)
    cached = apps.__dict__.get("_rowsync_ondelete_plan")
    if cached is not None and cached[0] == key:
        plan: Plan = cached[1]
        return plan
    plan = build_plan(apps, selection)
    apps.__dict__["_rowsync_ondelete_plan"] = (key, plan)
    return plan


def model_plan(model: type[Model]) -> Plan:
    """Return the plan of the registry ``model`` belongs to."""
    return get_plan(model._meta.apps)
