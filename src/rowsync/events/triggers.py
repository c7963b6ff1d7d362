"""Capture triggers and inbox tables as frozen database objects (the ``events`` contributor).

The SQL comes from the backend (``capture_triggers_sql``); :mod:`rowsync.schema` freezes
it into migrations, re-creates it after SQLite table rebuilds and installs it on test
databases built without migrations.
"""

from __future__ import annotations

from django.db.models import Model

from rowsync.backends import BaseBackend
from rowsync.events.capture import capture_spec
from rowsync.schema import CompiledSQL

__all__ = ["capture_objects"]

OWNER = "events"


def capture_objects(model: type[Model], backend: BaseBackend) -> list[CompiledSQL]:
    """Return the capture triggers ``model``'s table needs on ``backend``'s engine.

    Args:
        model: Any model; most need nothing.
        backend: A backend, possibly offline (only its SQL templates are used).
    """
    spec = capture_spec(model)
    if spec is None:
        return []
    references = sorted(
        {t for _c, t, _p in spec.fk_columns}
        | {"rowsync_deleted_row", "rowsync_capture_session"}
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
