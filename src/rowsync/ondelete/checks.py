"""System checks of database-enforced on_delete: rowsync.E030-E059."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig, apps
from django.core import checks
from django.db import DatabaseError, connections

from rowsync import conf
from rowsync.backends import BaseBackend, get_backend, is_supported
from rowsync.ondelete import actions as a
from rowsync.ondelete.drift import Difference, differences
from rowsync.ondelete.plan import Plan, get_plan
from rowsync.schema import MIGRATING, OPTION, app_has_migrations
from rowsync.selection import selects


def _models(app_configs: Sequence[AppConfig] | None) -> set[Any]:
    if app_configs is None:
        return set(apps.get_models(include_auto_created=True))
    return {m for c in app_configs for m in c.get_models(include_auto_created=True)}


def check_models(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """rowsync.E031-E035: foreign keys the database cannot enforce as asked; W110-W114."""
    plan = get_plan(apps)
    selected = _models(app_configs)
    return plan_errors(plan, selected) + plan_warnings(plan, selected)


def plan_warnings(plan: Plan, selected: set[Any]) -> list[checks.CheckMessage]:
    """Return the warnings of ``plan``: relations ``ROWSYNC_DB_ON_DELETE`` leaves to Python."""
    return [
        checks.Warning(
            f"{field.model._meta.label}.{field.name} stays at the Python level although "
            f"ROWSYNC_DB_ON_DELETE selects it: {python_level.reason}.",
            hint="Django's Collector handles it as without rowsync (ORM deletes only). "
            "Silence this id, or leave the model out with ROWSYNC_DB_ON_DELETE_EXCLUDE.",
            obj=field,
            id=python_level.check_id,
        )
        for field, python_level in getattr(plan, "python_level", {}).items()
        if field.model in selected
    ]


def plan_errors(plan: Plan, selected: set[Any]) -> list[checks.CheckMessage]:
    """Return the errors of ``plan`` for the models in ``selected``."""
    errors: list[checks.CheckMessage] = []
    for field, behaviour in plan.behaviours.items():
        if field.model in selected and behaviour.rowsync_compiles:
            errors += _field_errors(field, behaviour)
    return errors + _inheritance_errors(plan, selected) + _generic_errors(plan, selected)


def _field_errors(field: Any, behaviour: Any) -> list[checks.CheckMessage]:
    """rowsync.E031-E033: a foreign key whose action the database cannot run as asked."""
    errors: list[checks.CheckMessage] = []
    where = f"{field.model._meta.label}.{field.name}"
    if not field.db_constraint and behaviour.operation != a.DO_NOTHING:
        errors.append(
            checks.Error(
                f"{where} has db_constraint=False, so the database cannot enforce "
                f"on_delete {behaviour.operation} ({behaviour.source}).",
                hint="Set db_constraint=True, or keep a Python-level on_delete and leave "
                "the model out of ROWSYNC_DB_ON_DELETE.",
                obj=field,
                id="rowsync.E031",
            )
        )
    if behaviour.operation == a.SET_NULL and not field.null:
        errors.append(
            checks.Error(
                f"{where} is set to NULL by the database on delete, but cannot be null.",
                hint="Set null=True, or choose another on_delete.",
                obj=field,
                id="rowsync.E032",
            )
        )
    if behaviour.operation in (a.SET, a.SET_DEFAULT) and not behaviour.supported:
        errors.append(
            checks.Error(
                f"{where}: the value of {behaviour.operation} ({behaviour.value!r}) is a "
                "Python callable or object, which cannot run in the database.",
                hint="Use a constant or a database expression (Value(...), RawSQL('(...)', "
                "[])), or keep Python's models.SET(callable) and leave the model out of "
                "ROWSYNC_DB_ON_DELETE.",
                obj=field,
                id="rowsync.E033",
            )
        )
    return errors


def _inheritance_errors(plan: Plan, selected: set[Any]) -> list[checks.CheckMessage]:
    """rowsync.E035: a database cascade that would leave multi-table parent rows behind."""
    errors: list[checks.CheckMessage] = []
    for field, behaviour in plan.behaviours.items():
        opts = field.model._meta
        if (
            field.model in selected
            and behaviour.operation == a.CASCADE
            and opts.parents
            and not field.remote_field.parent_link
        ):
            errors.append(
                checks.Error(
                    f"{opts.label}.{field.name}: the database deletes {opts.label} rows, which "
                    "leaves their multi-table inheritance parent rows "
                    f"({', '.join(p._meta.label for p in opts.parents)}) behind.",
                    hint="Point the database-level foreign key from the parent model, or keep "
                    "it at the Python level.",
                    obj=field,
                    id="rowsync.E035",
                )
            )
    return errors


def _generic_errors(plan: Plan, selected: set[Any]) -> list[checks.CheckMessage]:
    """rowsync.E034: rows the database deletes while a GenericRelation points at them."""
    errors: list[checks.CheckMessage] = []
    for model in sorted(plan.deletable, key=lambda m: m._meta.label):
        if model not in selected:
            continue
        opts = model._meta
        generic = [f.name for f in opts.private_fields if hasattr(f, "bulk_related_objects")]
        if generic:
            errors.append(
                checks.Error(
                    f"{opts.label} rows can be deleted by the database, which would leave the "
                    f"objects of its GenericRelation {', '.join(generic)} behind.",
                    hint="Delete those objects first (pre_delete), or keep the relations that "
                    "lead to this model at the Python level.",
                    obj=model,
                    id="rowsync.E034",
                )
            )
    return errors


def self_reference_messages(
    plan: Plan, selected: set[Any], backend: BaseBackend, engine: str
) -> list[checks.CheckMessage]:
    """rowsync.E037/W115: SET / SET_DEFAULT on a self-referencing foreign key, by trigger.

    Where the engine runs SET / SET_DEFAULT in a trigger of the referenced table and a
    trigger may not update its own table (MariaDB/MySQL), a self-referencing foreign key
    cannot be enforced with them. No object is compiled for it there
    (:func:`rowsync.ondelete.compile.compile_field`), so Django's Collector keeps doing it
    on ORM deletes. Chosen explicitly (a ``DB_*`` value, or below one) that is an error;
    taken only because ``ROWSYNC_DB_ON_DELETE`` selects the model, a warning that names it.

    Args:
        plan: The plan of the app registry.
        selected: The models to report on.
        backend: The engine's backend.
        engine: The engine's name for the message (``connection.display_name``).
    """
    if backend.trigger_may_modify_own_table:
        return []
    selection, exclude = conf.db_on_delete_selection(), conf.db_on_delete_exclude()
    messages: list[checks.CheckMessage] = []
    for field, behaviour in plan.behaviours.items():
        if (
            field.model not in selected
            or not behaviour.rowsync_compiles
            or behaviour.operation not in (a.SET, a.SET_DEFAULT)
            or field.remote_field.model._meta.concrete_model
            is not field.model._meta.concrete_model
        ):
            continue
        where = f"{field.model._meta.label}.{field.name}"
        if behaviour.source == "setting" or (
            behaviour.source == "chain" and selects(selection, field.model, exclude)
        ):
            messages.append(
                checks.Warning(
                    f"{where} stays at the Python level on {engine} although "
                    f"ROWSYNC_DB_ON_DELETE selects it: {engine} cannot run "
                    f"{behaviour.operation} on a self-referencing foreign key (a trigger "
                    "cannot update its own table).",
                    hint="Django's Collector handles it as without rowsync (ORM deletes "
                    "only; a raw DELETE of a referenced row is refused by the foreign key). "
                    "Silence this id, or leave the model out with "
                    "ROWSYNC_DB_ON_DELETE_EXCLUDE.",
                    obj=field,
                    id="rowsync.W115",
                )
            )
            continue
        messages.append(
            checks.Error(
                f"{where}: {engine} cannot run {behaviour.operation} on a self-referencing "
                "foreign key (a trigger cannot update its own table).",
                hint="Use DB_SET_NULL or DB_CASCADE, or keep Python's SET_DEFAULT.",
                obj=field,
                id="rowsync.E037",
            )
        )
    return messages


def _recorded(connection: Any) -> set[str] | None:
    """Return the names of the objects the applied migrations record (None: some unapplied)."""
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        return None
    state = executor.loader.project_state()
    return {o.name for ms in state.models.values() for o in ms.options.get(OPTION, ())}


def _missing_hint(difference: Difference, recorded: set[str]) -> str:
    label = difference.detail.rsplit(" of ", 1)[-1]
    if difference.name in recorded or not app_has_migrations(label.split(".")[0]):
        return (
            "Run migrate: it installs the objects the migrations record; "
            "`manage.py rowsync check` lists every difference."
        )
    return (
        "Run makemigrations, then migrate: no migration installs it yet; "
        "`manage.py rowsync check` lists every difference."
    )


def check_drift(
    app_configs: Sequence[AppConfig] | None = None,
    databases: Sequence[str] | None = None,
    **kwargs: Any,
) -> list[checks.CheckMessage]:
    """rowsync.E040/W041: the database lacks (or has extra) rowsync objects; E037/W115 MySQL.

    E040 and W041 cover every object (on_delete, capture triggers, inboxes); they are
    not reported to ``migrate``'s own checks (see :data:`rowsync.schema.MIGRATING`).
    """
    messages: list[checks.CheckMessage] = []
    plan = get_plan(apps)
    selected = _models(app_configs)
    for alias in databases or ():
        connection = connections[alias]
        if not is_supported(connection):
            continue
        backend = get_backend(connection)
        messages += self_reference_messages(plan, selected, backend, connection.display_name)
        if not MIGRATING.get():
            messages += _drift_messages(alias, connection)
    return messages


def _drift_messages(alias: str, connection: Any) -> list[checks.CheckMessage]:
    """rowsync.E040/W041: the objects the database lacks, or has beyond the models'."""
    try:
        recorded = _recorded(connection)
        if recorded is None:
            return []  # migrate installs what is missing; compare afterwards
        found = differences(alias)
    except DatabaseError:
        return []  # no database yet: nothing to compare
    messages: list[checks.CheckMessage] = []
    for difference in found:
        if difference.problem == "missing":
            messages.append(
                checks.Error(
                    f"Database {alias!r} lacks {difference.name} on {difference.table} "
                    f"({difference.detail}).",
                    hint=_missing_hint(difference, recorded),
                    id="rowsync.E040",
                )
            )
        else:
            messages.append(
                checks.Warning(
                    f"Database {alias!r} has {difference.name} on {difference.table}, "
                    "which no model asks for.",
                    hint="Run makemigrations and migrate to remove it.",
                    id="rowsync.W041",
                )
            )
    return messages
