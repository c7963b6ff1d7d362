"""MariaDB/MySQL: schema-object listing and ``on_delete`` (InnoDB constraints, and
``BEFORE DELETE`` triggers for SET/SET_DEFAULT)."""

from __future__ import annotations

from typing import ClassVar

from rowsync.backends.base import BaseBackend, OnDeleteSpec, OnDeleteSQL


class MySQLOnDelete(BaseBackend):
    """MariaDB's schema-object listing and ``on_delete`` SQL."""

    # --- schema objects ---
    def installed_objects_sql(self) -> str:
        """Return a query listing ``(name, table)`` of rowsync's triggers and FK constraints."""
        return (
            "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS "
            "WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME LIKE 'rowsync\\_%' "
            "UNION ALL "
            "SELECT CONSTRAINT_NAME, TABLE_NAME FROM information_schema.TABLE_CONSTRAINTS "
            "WHERE CONSTRAINT_SCHEMA = DATABASE() AND CONSTRAINT_TYPE = 'FOREIGN KEY' "
            "AND CONSTRAINT_NAME LIKE 'rowsync\\_%'"
        )

    # --- on_delete ---
    # InnoDB checks foreign keys row by row and has no DEFERRABLE
    # (https://mariadb.com/kb/en/foreign-keys/).
    fk_checks_deferred: ClassVar[bool] = False
    # ERROR 1442: a trigger cannot modify the table its statement uses
    # (https://mariadb.com/kb/en/trigger-limitations/).
    trigger_may_modify_own_table: ClassVar[bool] = False

    #: MySQL's identifier limit, what Django shortens its constraint names to.
    django_max_name_length: ClassVar[int] = 64

    def on_delete_sql(self, spec: OnDeleteSpec) -> OnDeleteSQL | None:
        """Return a replacement FK constraint with the action, or a trigger for SET/SET_DEFAULT.

        Django's constraint is ``NO ACTION``, which InnoDB checks row by row before any
        other constraint's action could run, so it is replaced (and put back on
        uninstall). PROTECT needs nothing: that constraint already refuses. InnoDB drops
        ``ON DELETE SET DEFAULT`` silently, hence the ``BEFORE DELETE`` trigger; such
        triggers do not fire for rows removed by a cascade (MySQL bug #11472).
        """
        q = self.qn
        child, col, name = q(spec.table), q(spec.column), q(spec.name)
        ref = f"{q(spec.ref_table)} ({q(spec.ref_column)})"
        action = {"CASCADE": "CASCADE", "SET_NULL": "SET NULL"}.get(spec.operation)
        if action is not None:
            django_fk = q(spec.django_fk_name)
            install = [
                f"ALTER TABLE {child} DROP FOREIGN KEY IF EXISTS {django_fk}",
                f"ALTER TABLE {child} ADD CONSTRAINT {name} FOREIGN KEY ({col}) "
                f"REFERENCES {ref} ON DELETE {action}",
            ]
            uninstall = [
                f"ALTER TABLE {child} DROP FOREIGN KEY IF EXISTS {name}",
                f"ALTER TABLE {child} ADD CONSTRAINT {django_fk} FOREIGN KEY ({col}) "
                f"REFERENCES {ref}",
            ]
            return ("constraint", install, uninstall)
        if spec.operation not in ("SET", "SET_DEFAULT"):
            return None
        old = f"OLD.{q(spec.ref_column)}"
        guard = self.set_guard_condition(spec, old).replace(
            f"({spec.value_sql}) = {old}", f"({spec.value_sql}) <=> {old}", 1
        )
        install = [
            f"CREATE TRIGGER {name} BEFORE DELETE ON {q(spec.ref_table)} FOR EACH ROW BEGIN\n"
            # foreign_key_checks=0 (loaddata, flush) switches InnoDB's FK actions off;
            # the trigger follows suit.
            f"  IF @@foreign_key_checks AND EXISTS (SELECT 1 FROM {child} WHERE {col} = {old})"
            f" THEN\n"
            f"    IF {guard} THEN\n"
            f"      SIGNAL SQLSTATE '23000' SET MESSAGE_TEXT = '{self.refusal_message(spec)}';\n"
            f"    END IF;\n"
            f"    UPDATE {child} SET {col} = ({spec.value_sql}) WHERE {col} = {old};\n"
            f"  END IF;\n"
            f"END"
        ]
        return ("trigger", install, [f"DROP TRIGGER IF EXISTS {name}"])
