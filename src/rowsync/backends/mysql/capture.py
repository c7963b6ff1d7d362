"""MariaDB/MySQL: capture triggers of a table's own deletes, the rows rowsync's
SET/SET_DEFAULT triggers change, and the capture session (user variables).

InnoDB performs FK actions inside the storage engine and fires no triggers for the rows
it cascades or nulls (https://mariadb.com/kb/en/trigger-overview/#triggers-and-foreign-keys,
MySQL bug #11472). So each captured table records its own direct deletes with an AFTER
DELETE trigger, and each table whose deletes cascade into captured tables records those
rows BEFORE the cascade (:mod:`rowsync.backends.mysql.cascade`). Claim, lease and context
travel in user variables (visible to triggers of the same session).
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

from rowsync.backends.base import BaseBackend, TriggerSQL, bounded_name


class MySQLCapture(BaseBackend):
    """MariaDB's capture triggers of a table's own rows, and its capture session."""

    def _capture_image(
        self,
        spec: Any,
        ref: str,
        set_null: frozenset[str] = frozenset(),
        values: dict[str, str] | None = None,
    ) -> str:
        parts = []
        for col in spec.columns:
            value = f"{ref}.`{col.column}`"
            if col.column in set_null:
                parts.append(f"{self.capture_literal(col.column)}, NULL")
                continue
            if values and col.column in values:
                value = values[col.column]
            parts.append(f"{self.capture_literal(col.column)}, {self._capture_json(col, value)}")
        return "JSON_OBJECT(" + ", ".join(parts) + ")"

    def _capture_json(self, col: Any, value: str) -> str:
        if col.kind == "binary":
            return f"HEX({value})"
        if col.kind == "json":
            return f"JSON_EXTRACT({value}, '$')"
        return value

    def _capture_values(self, spec: Any, op: str, ref: str, image: str, changes: str) -> str:
        lit = self.capture_literal
        return (
            f"{lit(spec.model_label)}, {lit(spec.table)}, {lit(op)}, "
            f"CAST({ref}.`{spec.pk_column}` AS CHAR), {image}, {changes}, "
            "COALESCE(@rowsync_claim, ''), @rowsync_context, COALESCE(@rowsync_claim, ''), "
            "IF(@rowsync_lease IS NULL, NULL, NOW(6) + INTERVAL @rowsync_lease SECOND)"
        )

    def _set_trigger_name(self, table: str, column: str) -> str:
        digest = hashlib.sha1(f"sd:{table}:{column}".encode()).hexdigest()[:5]
        return bounded_name("rowsync_sd_", table, digest, 45)

    def _set_capture_triggers(self, spec: Any) -> list[TriggerSQL]:
        """Return the triggers that record the rows rowsync's SET/SET_DEFAULT changes.

        rowsync's on_delete runs ``UPDATE child SET fk = value`` in a ``BEFORE DELETE``
        trigger of the parent (InnoDB has no ``SET DEFAULT``). Once it ran, nothing tells
        which rows pointed at the deleted row, so this trigger runs right before it
        (``PRECEDES``) and records those rows with the value the update is about to
        write. The table's own objects are installed in name order, ``rowsync_od_*``
        before ``rowsync_sd_*``, so the on_delete trigger exists when this one is
        created; re-creating the on_delete trigger later puts it last, still after.
        """
        cols = ", ".join(f"`{c}`" for c in self.capture_event_columns)
        out: list[TriggerSQL] = []
        for set_col in spec.set_columns:
            value = self.set_value_sql(set_col.value)
            if value is None or set_col.parent_table == spec.table:
                continue  # refused by rowsync.E033 / rowsync.E037: no on_delete trigger
            image_col = next(c for c in spec.columns if c.column == set_col.column)
            new = self._capture_json(image_col, f"({value})")
            image = self._capture_image(spec, "t1", values={set_col.column: f"({value})"})
            changes = f"JSON_OBJECT({self.capture_literal(set_col.column)}, {new})"
            values = self._capture_values(spec, "U", "t1", image, changes)
            name = self._set_trigger_name(spec.table, set_col.column)
            out.append(
                (
                    name,
                    [
                        f"CREATE TRIGGER `{name}` BEFORE DELETE ON `{set_col.parent_table}` "
                        f"FOR EACH ROW PRECEDES `{set_col.action_object}` "
                        # Same condition as the on_delete trigger's.
                        f"IF @@foreign_key_checks THEN "
                        f"INSERT INTO `{self.capture_event_table}` ({cols}) "
                        f"SELECT {values} FROM `{spec.table}` t1 "
                        f"WHERE t1.`{set_col.column}` = OLD.`{set_col.parent_column}`; END IF"
                    ],
                    [f"DROP TRIGGER IF EXISTS `{name}`"],
                )
            )
        return out

    def capture_own_triggers_sql(self, spec: Any) -> list[TriggerSQL]:
        """Return the ``AFTER DELETE`` trigger of a captured table and its SET triggers."""
        if not spec.captured:
            return []
        table = spec.table
        cols = ", ".join(f"`{c}`" for c in self.capture_event_columns)
        name = self.capture_trigger_name("cd", table)
        values = self._capture_values(spec, "D", "OLD", self._capture_image(spec, "OLD"), "NULL")
        out: list[TriggerSQL] = [
            (
                name,
                [
                    f"CREATE TRIGGER `{name}` AFTER DELETE ON `{table}` FOR EACH ROW "
                    f"INSERT INTO `{self.capture_event_table}` ({cols}) VALUES ({values})"
                ],
                [f"DROP TRIGGER IF EXISTS `{name}`"],
            )
        ]
        out.extend(self._set_capture_triggers(spec))
        return out

    #: User variables belong to the connection, not the transaction
    #: (https://mariadb.com/kb/en/user-defined-variables/).
    capture_session_transactional: ClassVar[bool] = False

    def capture_session_begin_sql(
        self, claim: str, lease: int | None, context: str | None
    ) -> list[tuple[str, list[Any]]]:
        """Set the session's user variables, then read the event id floor."""
        return [
            (
                "SET @rowsync_claim = %s, @rowsync_lease = %s, @rowsync_context = %s",
                [claim, lease, context],
            ),
            ("SELECT COALESCE(MAX(`id`), 0) FROM `rowsync_deleted_row`", []),
        ]

    def capture_session_end_sql(
        self, previous: tuple[str, int | None, str | None] | None
    ) -> list[tuple[str, list[Any]]]:
        """Restore the enclosing session's variables (user variables outlive transactions)."""
        claim, lease, context = previous or (None, None, None)
        return [
            (
                "SET @rowsync_claim = %s, @rowsync_lease = %s, @rowsync_context = %s",
                [claim, lease, context],
            )
        ]
