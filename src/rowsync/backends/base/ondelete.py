"""Database-enforced ``on_delete``: the vendor-neutral facts of one foreign key, and the
flags and SQL every engine answers for it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from django.db.models.expressions import RawSQL, Value

from rowsync.backends.base.core import BackendCore


@dataclass(frozen=True)
class OnDeleteSpec:
    """One foreign key whose ``on_delete`` the database enforces (vendor-neutral facts).

    Attributes:
        name: Name of the rowsync object (trigger, function or constraint).
        table: The referencing (child) table.
        column: The foreign key column.
        pk_column: The child table's primary key column.
        ref_table: The referenced (parent) table.
        ref_column: The referenced column (primary key or ``to_field``).
        operation: ``CASCADE``, ``PROTECT``, ``SET_NULL``, ``SET_DEFAULT`` or ``SET``.
        value_sql: SQL of the value SET / SET_DEFAULT writes.
        label: ``app_label.Model.field``, quoted in refusal messages.
        django_fk_name: Name of the constraint Django created for the column.
        db_constraint: Whether Django created a constraint at all.
    """

    name: str
    table: str
    column: str
    pk_column: str
    ref_table: str
    ref_column: str
    operation: str
    value_sql: str = "NULL"
    label: str = ""
    django_fk_name: str = ""
    db_constraint: bool = True

    @property
    def self_referencing(self) -> bool:
        """Return whether the foreign key points at its own table."""
        return self.table == self.ref_table


#: ``(kind, install statements, uninstall statements)``.
OnDeleteSQL = tuple[str, list[str], list[str]]

#: Prefixes of the messages rowsync's triggers raise; rowsync turns them into errors.
PROTECT_MARKER = "rowsync.protect"
SET_TARGET_MARKER = "rowsync.set_target_missing"


class OnDeleteMixin(BackendCore):
    """Flags and SQL for database-enforced ``on_delete``."""

    #: SQLite and PostgreSQL defer Django's FK checks to COMMIT; MySQL checks each row.
    fk_checks_deferred: ClassVar[bool] = True
    #: Can a trigger on a table update that same table (MySQL: ERROR 1442)?
    trigger_may_modify_own_table: ClassVar[bool] = True
    #: Length Django shortens constraint names to (``ops.max_name_length()`` or 200).
    django_max_name_length: ClassVar[int] = 200

    def on_delete_sql(self, spec: OnDeleteSpec) -> OnDeleteSQL | None:
        """Return the SQL that makes the database enforce ``spec`` (None: Django's FK does).

        RESTRICT and DO_NOTHING need nothing: Django's own ``NO ACTION`` constraint refuses
        the delete (at COMMIT where it is deferred; rowsync checks it right after an ORM
        delete, see :meth:`restrict_check_sql`).
        """
        raise NotImplementedError

    def restrict_check_sql(self, table: str, constraint: str) -> list[str]:
        """Return statements that fail now if ``constraint`` on ``table`` is violated."""
        return []

    def set_guard_condition(self, spec: OnDeleteSpec, old: str) -> str:
        """Return SQL true when SET/SET_DEFAULT would point at a missing or deleted row."""
        value = spec.value_sql
        ref = f"{self.qn(spec.ref_table)}.{self.qn(spec.ref_column)}"
        return (
            f"({value}) = {old} OR NOT EXISTS (SELECT 1 FROM {self.qn(spec.ref_table)} "
            f"WHERE {ref} = ({value}))"
        )

    def refusal_message(self, spec: OnDeleteSpec) -> str:
        """Return the message of a refusal raised by a trigger (no quotes inside)."""
        marker = PROTECT_MARKER if spec.operation == "PROTECT" else SET_TARGET_MARKER
        return f"{marker} {spec.label or spec.table + '.' + spec.column}".replace("'", "")

    def set_value_sql(self, value: object) -> str | None:
        """Return SQL for a SET/SET_DEFAULT value, or None when it cannot run in SQL.

        Args:
            value: A constant, ``Value(constant)`` or a ``RawSQL`` without parameters.
        """
        if isinstance(value, RawSQL):
            return None if value.params else f"({value.sql})"
        if isinstance(value, Value):
            value = value.value
        if value is None or isinstance(value, int | float | str | bool):
            return self.literal_sql(value)
        return None
