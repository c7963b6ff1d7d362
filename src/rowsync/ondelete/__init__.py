"""The ondelete subsystem of rowsync: the database enforces ``on_delete``."""

from __future__ import annotations

from typing import Any

from rowsync.ondelete.actions import (
    DB_CASCADE,
    DB_DO_NOTHING,
    DB_PROTECT,
    DB_RESTRICT,
    DB_SET,
    DB_SET_DEFAULT,
    DB_SET_NULL,
    SET,
    SET_DEFAULT,
    DatabaseAction,
    DatabaseSet,
)
from rowsync.ondelete.errors import SetTargetMissing

__all__ = [
    "DB_CASCADE",
    "DB_DO_NOTHING",
    "DB_PROTECT",
    "DB_RESTRICT",
    "DB_SET",
    "DB_SET_DEFAULT",
    "DB_SET_NULL",
    "DatabaseAction",
    "DatabaseSet",
    "SetTargetMissing",
    "db_action",
    "setup",
    "trigger_set_values",
    "unseen_into",
    "unseen_relations",
]

# {rowsync operation: what the row undergoes, in SQL ON DELETE words}
_SQL_ACTIONS = {
    "CASCADE": "CASCADE",
    "SET_NULL": "SET NULL",
    "SET_DEFAULT": "SET DEFAULT",
    "SET": "SET DEFAULT",  # an update of the FK column to a value, like SET DEFAULT
}


def db_action(fk: Any) -> str | None:
    """Return what the database does to ``fk``'s rows when their target row is deleted.

    Covers every foreign key rowsync enforces in the database: declared with a ``DB_*``
    value, selected by ``ROWSYNC_DB_ON_DELETE``, or reached by a database cascade.
    Django 6.1's own ``DB_*`` values are included.

    Args:
        fk: A ``ForeignKey`` or ``OneToOneField``.

    Returns:
        ``"CASCADE"`` (rows deleted), ``"SET NULL"`` or ``"SET DEFAULT"`` (rows updated;
        ``DB_SET(value)`` counts as ``"SET DEFAULT"``), or None when the database leaves
        the rows alone (PROTECT, RESTRICT, DO_NOTHING) or Django handles the delete.
    """
    from rowsync.ondelete.plan import model_plan

    behaviour = model_plan(fk.model).behaviours.get(fk)
    if behaviour is None:
        return None
    return _SQL_ACTIONS.get(behaviour.operation)


def trigger_set_values(model: Any) -> dict[Any, Any]:
    """Return ``{foreign key: value}`` for the keys of ``model``'s plan rowsync sets in a trigger.

    The keys whose ``SET`` / ``SET_DEFAULT`` rowsync compiles into a database object
    (with the value it writes); the capture triggers of MariaDB read them.
    """
    from rowsync.ondelete.plan import model_plan

    out: dict[Any, Any] = {}
    for field, behaviour in model_plan(model).behaviours.items():
        if (
            behaviour.operation in (SET, SET_DEFAULT)
            and behaviour.rowsync_compiles
            and behaviour.supported
        ):
            out[field] = behaviour.value
    return out


def unseen_relations(plan: Any = None) -> dict[Any, str]:
    """Return the foreign keys whose rows the database changes where Django never looks.

    The rows of these relations are deleted or updated by the database alone, so Django
    sends none of their signals: declared with a ``DB_*`` value (rowsync's or Django
    6.1's), or reached by a database cascade below one.

    Args:
        plan: The plan to read (tests); the installed models' plan by default.

    Returns:
        ``{fk: "CASCADE" | "SET NULL" | "SET DEFAULT"}`` (see :func:`db_action`).
    """
    if plan is None:
        from django.apps import apps

        from rowsync.ondelete.plan import get_plan

        plan = get_plan(apps)
    return {
        fk: _SQL_ACTIONS[behaviour.operation]
        for fk, behaviour in plan.unseen().items()
        if behaviour.operation in _SQL_ACTIONS
    }


def unseen_into(target: Any) -> list[tuple[Any, str]]:
    """Return ``[(fk, action)]`` of :func:`unseen_relations` pointing at model ``target``.

    The identity map asks this when rows of ``target`` are deleted (its mapped children
    the database changes); cached on the plan.
    """
    from rowsync.ondelete.plan import model_plan

    plan = model_plan(target)
    by_target: dict[Any, list[tuple[Any, str]]] | None = plan.__dict__.get("_unseen_into")
    if by_target is None:
        by_target = {}
        for fk, action in unseen_relations(plan).items():
            parent = fk.remote_field.model._meta.concrete_model
            by_target.setdefault(parent, []).append((fk, action))
        plan.__dict__["_unseen_into"] = by_target
    return by_target.get(target._meta.concrete_model, [])


def setup() -> None:
    """Connect this subsystem's hooks, checks and signal handlers (idempotent)."""
    from django.core import checks as django_checks

    from rowsync import events, identity, schema
    from rowsync.ondelete import checks, deletion, mixing
    from rowsync.ondelete.compile import OWNER, compile_model

    schema.setup()
    schema.register_contributor(OWNER, compile_model)
    identity.set_database_actions(unseen_into)
    # The events subsystem wraps Collector.delete as well. This wrapper must be the
    # outer one: its savepoint lets it explain a refusal after the inner ones failed.
    events.setup()
    if deletion.needs_patch():
        deletion.patch_collector()
        mixing.patch_check()
        schema.activate()
    django_checks.register(checks.check_models, django_checks.Tags.models)
    django_checks.register(checks.check_drift, django_checks.Tags.database)
