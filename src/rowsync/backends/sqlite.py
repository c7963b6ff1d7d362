"""SQLite: FK actions fire child triggers; triggers are lost when Django rebuilds a table."""

from __future__ import annotations

from typing import ClassVar

from rowsync.backends.base import BaseBackend


class SQLiteBackend(BaseBackend):
    """SQLite 3.37+ with ``PRAGMA foreign_keys=ON`` (Django's default)."""

    vendor: ClassVar[str] = "sqlite"
    fk_actions_fire_triggers: ClassVar[bool] = True
    # SQLITE_MAX_TRIGGER_DEPTH (https://www.sqlite.org/limits.html#max_trigger_depth)
    max_cascade_depth: ClassVar[int | None] = 1000

    # --- schema objects ---
    def installed_objects_sql(self) -> str:
        """Return a query listing ``(name, table)`` of rowsync's triggers."""
        return (
            "SELECT name, tbl_name FROM sqlite_master "
            "WHERE type = 'trigger' AND name LIKE 'rowsync\\_%' ESCAPE '\\'"
        )
