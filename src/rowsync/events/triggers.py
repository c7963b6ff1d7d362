"""Capture triggers as frozen database objects (the ``events`` contributor).

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
    return [
        CompiledSQL(
            name=name,
            vendor=backend.vendor,
            table=spec.table,
            install_sql=tuple(install),
            uninstall_sql=tuple(uninstall),
            owner=OWNER,
            kind="trigger",
            references=tuple(t for t in references if t != spec.table),
        )
        for name, install, uninstall in backend.capture_triggers_sql(spec)
    ]


def _cascade_tables(spec: object) -> set[str]:
    out: set[str] = set()
    stack = list(getattr(spec, "cascades", ()))
    while stack:
        edge = stack.pop()
        out.add(edge.child.table)
        stack.extend(edge.below)
    return out
