"""SQLite: when rowsync's trigger guards go in (the guards are :mod:`.schema`).

Imported with the backend, so Django's SQLite schema module is imported only when a
guard is applied.
"""

from __future__ import annotations

from typing import ClassVar

from rowsync import _patch
from rowsync.backends.base import BaseBackend
from rowsync.backends.base.core import patch_own


def _owner(klass: type, name: str) -> type:
    """Return the class of ``klass``'s MRO that defines ``name`` itself."""
    return next(k for k in klass.__mro__ if name in vars(k))


class SQLiteSchemaGuards(BaseBackend):
    """SQLite's guards of rowsync's triggers (see the module docstring)."""

    table_rebuilds_drop_objects: ClassVar[bool] = True

    def guard_rebuilds(self) -> None:
        """Make the connection's schema editors keep rowsync's triggers (idempotent)."""
        from rowsync.backends.sqlite.schema import RebuildGuard

        wrapper = type(self.connection)
        if issubclass(wrapper.SchemaEditorClass, RebuildGuard):
            return
        _patch.apply(
            _owner(wrapper, "SchemaEditorClass"),
            "SchemaEditorClass",
            lambda editor: type("DatabaseSchemaEditor", (RebuildGuard, editor), {}),
            feature="schema",
        )

    def guard_flush(self) -> None:
        """Keep rowsync's triggers out of the connection's flush (idempotent)."""
        from rowsync.backends.sqlite.schema import flush_without_triggers

        ops = type(self.connection).ops_class
        patch_own(ops, "execute_sql_flush", flush_without_triggers, feature="schema")
