"""PostgreSQL: schema-object listing and ``on_delete`` (constraints with the action)."""

from __future__ import annotations

from typing import ClassVar

from rowsync.backends.base import BaseBackend, OnDeleteSpec, OnDeleteSQL


class PostgreSQLOnDelete(BaseBackend):
    """PostgreSQL's schema-object listing and ``on_delete`` SQL."""

    # --- schema objects ---
    def installed_objects_sql(self) -> str:
        """Return a query listing ``(name, table)`` of rowsync's triggers and constraints."""
        return (
            "SELECT t.tgname, c.relname FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE NOT t.tgisinternal AND t.tgname LIKE 'rowsync\\_%' "
            "AND n.nspname = current_schema() "
            "UNION ALL "
            "SELECT k.conname, c.relname FROM pg_constraint k "
            "JOIN pg_class c ON c.oid = k.conrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE k.conname LIKE 'rowsync\\_%' AND n.nspname = current_schema() "
            "UNION ALL "
            "SELECT c.relname, c.relname FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'r' AND c.relname LIKE 'rowsync\\_cb\\_%' "
            "AND n.nspname = current_schema()"
        )

    # --- on_delete ---
    #: PostgreSQL's NAMEDATALEN - 1, what Django shortens its constraint names to.
    django_max_name_length: ClassVar[int] = 63

    def on_delete_sql(self, spec: OnDeleteSpec) -> OnDeleteSQL | None:
        """Return Django's FK constraint with the action, or a trigger for SET/SET_DEFAULT.

        The constraint replaces Django's (same columns, still ``DEFERRABLE INITIALLY
        DEFERRED``, the DDL Django 6.1 emits for ``DB_CASCADE``); reversing puts Django's
        back. A second constraint next to Django's would double the per-row work of a
        cascade (one deferred ``NO ACTION`` check per deleted row). PROTECT is
        ``ON DELETE RESTRICT``, which PostgreSQL never defers
        (https://www.postgresql.org/docs/current/ddl-constraints.html#DDL-CONSTRAINTS-FK).
        """
        q = self.qn
        child, col, name = q(spec.table), q(spec.column), q(spec.name)
        action = {"CASCADE": "CASCADE", "SET_NULL": "SET NULL", "PROTECT": "RESTRICT"}.get(
            spec.operation
        )
        if action is not None:
            django_fk = q(spec.django_fk_name)
            ref = f"{q(spec.ref_table)} ({q(spec.ref_column)})"
            install = [
                f"ALTER TABLE {child} DROP CONSTRAINT IF EXISTS {django_fk}",
                f"ALTER TABLE {child} ADD CONSTRAINT {name} FOREIGN KEY ({col}) "
                f"REFERENCES {ref} ON DELETE {action} DEFERRABLE INITIALLY DEFERRED",
            ]
            uninstall = [
                f"ALTER TABLE {child} DROP CONSTRAINT IF EXISTS {name}",
                f"ALTER TABLE {child} ADD CONSTRAINT {django_fk} FOREIGN KEY ({col}) "
                f"REFERENCES {ref} DEFERRABLE INITIALLY DEFERRED",
            ]
            return ("constraint", install, uninstall)
        if spec.operation not in ("SET", "SET_DEFAULT"):
            return None
        old = f"OLD.{q(spec.ref_column)}"
        # An AFTER trigger: a BEFORE trigger returning NULL would silently skip the delete.
        function = (
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $rowsync$\n"
            f"BEGIN\n"
            f"  IF EXISTS (SELECT 1 FROM {child} WHERE {col} = {old}) THEN\n"
            f"    IF {self.set_guard_condition(spec, old)} THEN\n"
            f"      RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',\n"
            f"        MESSAGE = '{self.refusal_message(spec)}';\n"
            f"    END IF;\n"
            f"    UPDATE {child} SET {col} = ({spec.value_sql}) WHERE {col} = {old};\n"
            f"  END IF;\n"
            f"  RETURN NULL;\n"
            f"END $rowsync$"
        )
        install = [
            function,
            f"CREATE TRIGGER {name} AFTER DELETE ON {q(spec.ref_table)} "
            f"FOR EACH ROW EXECUTE FUNCTION {name}()",
        ]
        uninstall = [
            f"DROP TRIGGER IF EXISTS {name} ON {q(spec.ref_table)}",
            f"DROP FUNCTION IF EXISTS {name}()",
        ]
        return ("trigger", install, uninstall)

    def restrict_check_sql(self, table: str, constraint: str) -> list[str]:
        """Return ``SET CONSTRAINTS ... IMMEDIATE`` (checks now) and back to DEFERRED.

        (https://www.postgresql.org/docs/current/sql-set-constraints.html)
        """
        name = self.qn(constraint)
        return [f"SET CONSTRAINTS {name} IMMEDIATE", f"SET CONSTRAINTS {name} DEFERRED"]
