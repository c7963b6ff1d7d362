"""Capture triggers and inbox tables as frozen database objects (the ``events`` contributor).

The SQL comes from the backend (``capture_triggers_sql``); :mod:`rowsync.schema` freezes
it into migrations, re-creates it after SQLite table rebuilds and installs it on test
databases built without migrations.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Model

from rowsync.backends import BaseBackend
from rowsync.events.capture import CaptureSpec, capture_spec, db_action
from rowsync.schema import CompiledSQL, is_project_model

__all__ = ["capture_objects", "cascade_owner"]

OWNER = "events"


def cascade_owner(model: type[Model], spec: CaptureSpec) -> type[Model] | None:
    """Return the project model that holds the triggers of ``model``'s table, or None.

    A table that is not captured itself needs triggers only where the database deletes
    or changes rows of captured tables below it unseen (MariaDB's cascade capture): they
    exist for those children's sake. When ``model`` belongs to an installed package
    (whose migrations the project cannot write), they go with the first of its direct
    children (by label) that belongs to the project, in that child's migrations; the
    object stays one trigger, so a row reached along two paths is recorded once.

    None: ``model`` holds them itself (it is captured, belongs to the project, cascades
    into its own table, or no child of the project is below it).
    """
    if spec.captured or not spec.cascades or is_project_model(model):
        return None
    if any(edge.child.table == spec.table for edge in spec.cascades):
        return None  # its own self-referencing cascade: the trigger is the table's own
    children: list[type[Model]] = []
    for edge in spec.cascades:
        try:
            child = model._meta.apps.get_model(edge.child.model_label)
        except LookupError:
            continue
        if is_project_model(child):
            children.append(child)
    return min(children, key=lambda m: m._meta.label_lower, default=None)


def _parents(model: type[Model]) -> list[type[Model]]:
    """Return the other tables whose deletes the database carries into ``model``'s rows."""
    found: dict[str, type[Model]] = {}
    for f in model._meta.local_concrete_fields:
        if not isinstance(f, models.ForeignKey) or db_action(f) is None:
            continue
        parent = f.related_model
        if not isinstance(parent, type):
            continue
        parent = parent._meta.concrete_model or parent
        if parent is not model:
            found.setdefault(parent._meta.label_lower, parent)
    return [found[label] for label in sorted(found)]


def capture_objects(model: type[Model], backend: BaseBackend) -> list[CompiledSQL]:
    """Return the capture objects that belong to ``model`` on ``backend``'s engine.

    Those of its own table, unless another model holds them (:func:`cascade_owner`), and
    those of the parent tables it holds.

    Args:
        model: Any model; most need nothing.
        backend: A backend, possibly offline (only its SQL templates are used).
    """
    objects: list[CompiledSQL] = []
    spec = capture_spec(model)
    if spec is not None and cascade_owner(model, spec) is None:
        objects.extend(_table_objects(spec, backend))
    for parent in _parents(model):
        parent_spec = capture_spec(parent)
        if parent_spec is not None and cascade_owner(parent, parent_spec) is model:
            objects.extend(_table_objects(parent_spec, backend))
    return objects


def _table_objects(spec: CaptureSpec, backend: BaseBackend) -> list[CompiledSQL]:
    """Return the inbox and capture triggers of the table of ``spec``."""
    references = sorted(
        {t for _c, t, _p in spec.fk_columns}
        | {backend.capture_event_table, *backend.capture_session_tables}
        | _cascade_tables(spec)
    )
    objects: list[tuple[str, list[str], list[str], str, set[str]]] = []
    if spec.captured and backend.capture_inbox:
        install, uninstall = backend.capture_inbox_sql(spec)
        objects.append((spec.inbox, install, uninstall, "table", {"rowsync_deleted_row"}))
    # The delete trigger copies rows into the inbox (where the engine has inboxes).
    copies = backend.capture_trigger_name("cd", spec.table) if objects else ""
    for name, install, uninstall in backend.capture_triggers_sql(spec):
        names = {t for t in references if t != spec.table}
        objects.append(
            (
                name,
                install,
                uninstall,
                "trigger",
                names | ({spec.inbox} if name == copies else set()),
            )
        )
    return [
        CompiledSQL(
            name=name,
            vendor=backend.vendor,
            table=spec.table,
            install_sql=tuple(install),
            uninstall_sql=tuple(uninstall),
            owner=OWNER,
            kind=kind,
            references=tuple(sorted(names)),
        )
        for name, install, uninstall, kind, names in objects
    ]


def _cascade_tables(spec: object) -> set[str]:
    out: set[str] = set()
    stack = list(getattr(spec, "cascades", ()))
    while stack:
        edge = stack.pop()
        out.add(edge.child.table)
        stack.extend(edge.below)
    return out
