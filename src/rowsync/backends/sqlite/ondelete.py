"""SQLite: ``on_delete`` as ``AFTER DELETE`` triggers on the parent table."""

from __future__ import annotations

from rowsync.backends.base import BaseBackend, OnDeleteSpec, OnDeleteSQL


class SQLiteOnDelete(BaseBackend):
    """SQLite's schema-object listing and ``on_delete`` SQL."""

    # --- schema objects ---
    def installed_objects_sql(self) -> str:
        """Return a query listing ``(name, table)`` of rowsync's triggers."""
        return (
            "SELECT name, tbl_name FROM sqlite_master "
            "WHERE (type = 'trigger' AND name LIKE 'rowsync\\_%' ESCAPE '\\') "
            "OR (type = 'table' AND name LIKE 'rowsync\\_cb\\_%' ESCAPE '\\')"
        )

    # --- on_delete ---
    def on_delete_sql(self, spec: OnDeleteSpec) -> OnDeleteSQL | None:
        """Return an ``AFTER DELETE`` trigger on the parent table doing the FK action.

        SQLite cannot add an ``ON DELETE`` action to an existing constraint (only a table
        rebuild can), so a trigger does it; Django's constraint is deferred to COMMIT,
        which leaves the trigger time to act. A self-referencing cascade removes the
        whole subtree with one recursive query, because a trigger does not fire itself
        again unless ``PRAGMA recursive_triggers`` is on
        (https://www.sqlite.org/pragma.html#pragma_recursive_triggers).
        """
        q = self.qn
        old = f"OLD.{q(spec.ref_column)}"
        child, col = q(spec.table), q(spec.column)
        if spec.operation == "CASCADE":
            if spec.self_referencing:
                ref = q(spec.ref_column)
                body = (
                    f"DELETE FROM {child} WHERE {col} IN (WITH RECURSIVE rowsync_t(v) AS "
                    f"(SELECT {old} UNION SELECT c.{ref} FROM {child} c "
                    f"JOIN rowsync_t ON c.{col} = rowsync_t.v) SELECT v FROM rowsync_t);"
                )
            else:
                body = f"DELETE FROM {child} WHERE {col} = {old};"
        elif spec.operation == "SET_NULL":
            body = f"UPDATE {child} SET {col} = NULL WHERE {col} = {old};"
        elif spec.operation in ("SET", "SET_DEFAULT"):
            guard = self.set_guard_condition(spec, old)
            body = (
                f"SELECT RAISE(ABORT, '{self.refusal_message(spec)}') WHERE EXISTS "
                f"(SELECT 1 FROM {child} WHERE {col} = {old}) AND ({guard}); "
                f"UPDATE {child} SET {col} = ({spec.value_sql}) WHERE {col} = {old};"
            )
        elif spec.operation == "PROTECT":
            body = (
                f"SELECT RAISE(ABORT, '{self.refusal_message(spec)}') WHERE EXISTS "
                f"(SELECT 1 FROM {child} WHERE {col} = {old});"
            )
        else:
            return None
        install = [
            f"CREATE TRIGGER {q(spec.name)} AFTER DELETE ON {q(spec.ref_table)} "
            f"FOR EACH ROW BEGIN {body} END"
        ]
        return ("trigger", install, [f"DROP TRIGGER IF EXISTS {q(spec.name)}"])

    def restrict_check_sql(self, table: str, constraint: str) -> list[str]:
        """Return ``PRAGMA foreign_key_check``: rows it returns violate a deferred FK.

        (https://www.sqlite.org/pragma.html#pragma_foreign_key_check)
        """
        return [f"PRAGMA foreign_key_check({self.qn(table)})"]
