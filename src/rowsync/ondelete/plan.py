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
work on ORM deletes (signals, counts unchanged), unless the rows below need none of it
(:meth:`Plan.cascade_subtree`, :mod:`rowsync.ondelete.collection`); the database covers
everything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.apps import apps as installed_apps
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


@dataclass(frozen=True)
class PythonLevel:
    """Why a foreign key a project-wide selection takes stays at the Python level.

    Attributes:
        check_id: The id of the warning that reports it (``rowsync.W110``-``W114``).
        reason: What stops the database from enforcing it, in words.
    """

    check_id: str
    reason: str


@dataclass
class Plan:
    """The enforced foreign keys of one app registry.

    Attributes:
        behaviours: ``{field: Behaviour}`` for every enforced foreign key.
        deletable: Concrete models whose rows the database can delete (cascades).
        incoming: ``{concrete target model: [enforced fields pointing at it]}``.
        python_level: ``{field: PythonLevel}``: foreign keys that ``"__all__"`` or an app
            label selects but the database cannot enforce; Django's Collector handles them
            exactly as without rowsync.
    """

    behaviours: dict[Any, Behaviour]
    deletable: set[type[Model]]
    incoming: dict[type[Model], list[Any]]
    python_level: dict[Any, PythonLevel] = field(default_factory=dict)
    # {foreign key: cascade_subtree(fk)}
    _subtrees: dict[Any, frozenset[type[Model]] | None] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def switched_on(self) -> bool:
        """Return whether rowsync enforces anything (a ``DB_*`` value or the setting).

        Django 6.1's own ``DB_*`` values alone switch nothing on: Django handles them.
        """
        return any(b.rowsync_compiles for b in self.behaviours.values())

    def for_model(self, model: type[Model]) -> list[tuple[Any, Behaviour]]:
        """Return ``(field, behaviour)`` for ``model``'s own enforced foreign keys."""
        return [(f, self.behaviours[f]) for f in relation_fields(model) if f in self.behaviours]

    def cascade_subtree(self, fk: Any) -> frozenset[type[Model]] | None:
        """Return the models whose rows the database alone can delete below ``fk``.

        See :func:`rowsync.ondelete.subtree.cascade_subtree` (cached per plan).
        """
        if fk not in self._subtrees:
            from rowsync.ondelete.subtree import cascade_subtree

            self._subtrees[fk] = cascade_subtree(self, fk)
        return self._subtrees[fk]

    def unseen(self) -> dict[Any, Behaviour]:
        """Return the enforced foreign keys whose rows Django's Collector never sees.

        Those declared with a ``DB_*`` value (rowsync's or Django 6.1's), and the chains
        below their cascades. Foreign keys a ``ROWSYNC_DB_ON_DELETE`` selection enforces
        are not among them: the Collector still handles them on ORM deletes.
        """
        gone: set[type[Model]] = set()  # models whose rows the database deletes unseen
        found: dict[Any, Behaviour] = {}
        changed = True
        while changed:
            changed = False
            for fk, behaviour in self.behaviours.items():
                if fk in found or not (
                    behaviour.python_skips or (behaviour.source == "chain" and _target(fk) in gone)
                ):
                    continue
                found[fk] = behaviour
                changed = True
                if behaviour.operation == a.CASCADE:
                    gone.add(fk.model._meta.concrete_model)
        return found


def _target(field: Any) -> type[Model]:
    model: type[Model] = field.remote_field.model._meta.concrete_model
    return model


def _label(field: Any) -> str:
    return f"{field.model._meta.label}.{field.name}"


def _grow(
    fields: list[Any],
    behaviours: dict[Any, Behaviour],
    deletable: set[type[Model]],
    wanted: Any,
) -> None:
    """Add to ``behaviours``/``deletable`` until nothing changes.

    ``wanted(field)`` returns the behaviour a field not yet enforced asks for (or None);
    a field whose target the database can delete follows as ``chain``.
    """
    changed = True
    while changed:
        changed = False
        for fk in fields:
            if fk in behaviours:
                continue
            behaviour = wanted(fk)
            if behaviour is None and _target(fk) in deletable:
                behaviour = python_behaviour(fk, "chain")
            if behaviour is None:
                continue
            behaviours[fk] = behaviour
            changed = True
            if behaviour.operation == a.CASCADE:
                deletable.add(fk.model._meta.concrete_model)


def _python_only(
    fk: Any, behaviour: Behaviour, blocked: dict[type[Model], PythonLevel]
) -> PythonLevel | None:
    """Return why the database cannot enforce ``fk`` as ``behaviour``, None if it can."""
    if not fk.db_constraint and behaviour.operation != a.DO_NOTHING:
        return PythonLevel("rowsync.W110", "it has db_constraint=False")
    if behaviour.operation in (a.SET, a.SET_DEFAULT) and not behaviour.supported:
        return PythonLevel(
            "rowsync.W111",
            f"the value of {behaviour.operation} ({behaviour.value!r}) is a Python callable "
            "or object",
        )
    if behaviour.operation != a.CASCADE:
        return None
    model = fk.model._meta.concrete_model
    if model in blocked:
        return blocked[model]
    opts = model._meta
    if opts.parents and not fk.remote_field.parent_link:
        return PythonLevel(
            "rowsync.W113",
            f"{opts.label} is a multi-table inheritance child: the database would leave its "
            "parent rows behind",
        )
    return None


def _generic_relations(model: type[Model]) -> list[str]:
    """Return the names of ``model``'s GenericRelations.

    Migration states (which the autodetector plans from) keep no GenericRelation: read
    them from the installed model of the same label.
    """
    names = [f.name for f in model._meta.private_fields if hasattr(f, "bulk_related_objects")]
    if names or model._meta.apps is installed_apps:
        return names
    try:
        installed = installed_apps.get_model(model._meta.label)
    except LookupError:
        return names
    return [f.name for f in installed._meta.private_fields if hasattr(f, "bulk_related_objects")]


def _generic_owners(apps: Apps) -> dict[type[Model], PythonLevel]:
    """Return the models whose rows only Python may delete: they own a GenericRelation."""
    owners: dict[type[Model], PythonLevel] = {}
    for model in apps.get_models():
        opts = model._meta
        generic = _generic_relations(model)
        if generic and not opts.proxy:
            owners[model] = PythonLevel(
                "rowsync.W112",
                f"{opts.label} owns the GenericRelation {', '.join(generic)}, whose objects "
                "only Django's Collector deletes",
            )
    return owners


def build_plan(apps: Apps, selection: object, exclude: object = ()) -> Plan:
    """Compute the plan of ``apps`` for the ``ROWSYNC_DB_ON_DELETE`` value ``selection``.

    Explicit choices (a ``DB_*`` on_delete, and what the database must do below them) are
    taken as written; the checks report what the database cannot do (E031-E035). What a
    ``selection`` adds on top is dropped, field by field, where the database cannot do it,
    together with every cascade that would delete rows those fields still point at
    (recorded in :attr:`Plan.python_level`).
    """
    fields: list[Any] = []
    for model in apps.get_models(include_auto_created=True):
        opts = model._meta
        if opts.proxy or opts.swapped:
            continue
        fields.extend(relation_fields(model))
    explicit: dict[Any, Behaviour] = {}
    explicit_deletable: set[type[Model]] = set()
    _grow(fields, explicit, explicit_deletable, field_behaviour)

    python_level: dict[Any, PythonLevel] = {}
    # {concrete model: why the database must not delete its rows}
    blocked = _generic_owners(apps)

    def wanted(fk: Any) -> Behaviour | None:
        if fk in python_level or not selects(selection, fk.model, exclude):
            return None
        return python_behaviour(fk, "setting")

    while True:
        behaviours = dict(explicit)
        deletable = set(explicit_deletable)
        _grow(fields, behaviours, deletable, wanted)
        found = False
        for fk, behaviour in behaviours.items():
            if fk in explicit or fk in python_level:
                continue
            why = _python_only(fk, behaviour, blocked)
            if why is None:
                continue
            python_level[fk] = why
            found = True
            # The rows of fk's target must now be deleted by Python too: a database
            # cascade would fail on (or orphan) the rows fk still points at.
            blocked.setdefault(
                _target(fk),
                PythonLevel(
                    "rowsync.W114",
                    f"{_label(fk)}, which points at its rows, stays at the Python level",
                ),
            )
        if not found:
            break
    incoming: dict[type[Model], list[Any]] = {}
    for fk in behaviours:
        incoming.setdefault(_target(fk), []).append(fk)
    return Plan(behaviours, deletable, incoming, python_level)


def get_plan(apps: Apps) -> Plan:
    """Return the (cached) plan of ``apps`` for the current settings."""
    selection = conf.db_on_delete_selection()
    exclude = conf.db_on_delete_exclude()
    models_ = apps.get_models(include_auto_created=True)
    key = (repr(selection), repr(exclude), len(models_), id(models_[0]) if models_ else 0)
    cached = apps.__dict__.get("_rowsync_ondelete_plan")
    if cached is not None and cached[0] == key:
        plan: Plan = cached[1]
        return plan
    plan = build_plan(apps, selection, exclude)
    apps.__dict__["_rowsync_ondelete_plan"] = (key, plan)
    return plan


def model_plan(model: type[Model]) -> Plan:
    """Return the plan of the registry ``model`` belongs to."""
    return get_plan(model._meta.apps)
