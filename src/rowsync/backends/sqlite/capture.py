"""SQLite: capture triggers (row-level; FK actions fire them) and the capture session."""

from __future__ import annotations

from typing import Any, ClassVar

from rowsync.backends.base import BaseBackend, TriggerSQL


class SQLiteCapture(BaseBackend):
    """SQLite's capture triggers."""

    # SQLite has no session variables, and an application-defined SQL function would make
    # every DELETE from a connection without it fail ("no such function"). Looking the
    # claim up in a table for every row cost more than the rest of the trigger, so the
    # triggers write no claim and no context: SQLite has one writer at a time, so the
    # events with ids above the floor read before an ORM delete are that delete's, and
    # rowsync stamps them afterwards when they must stay claimed past the transaction
    # (capture_stamps_later). Triggers frozen by older migrations still read
    # rowsync_capture_session; with no session row they write the same empty claim.
    capture_stamps_later: ClassVar[bool] = True

    def _capture_image(self, spec: Any, ref: str, set_null: frozenset[str] = frozenset()) -> str:
        parts = []
        for col in spec.columns:
            value = f'{ref}."{col.column}"'
            if col.column in set_null:
                value = "NULL"
            elif col.kind == "binary":
                value = f"hex({value})"
            elif col.kind == "json":
                value = f"json({value})"
            parts.append(f"{self.capture_literal(col.column)}, {value}")
        return "json_object(" + ", ".join(parts) + ")"

    def _capture_insert(self, spec: Any, op: str, ref: str, changes: str) -> str:
        lit = self.capture_literal
        cols = ", ".join(f'"{c}"' for c in self.capture_event_columns)
        return (
            f'INSERT INTO "{self.capture_event_table}" ({cols}) '
            f"SELECT {lit(spec.model_label)}, {lit(spec.table)}, {lit(op)}, "
            f'CAST({ref}."{spec.pk_column}" AS TEXT), {self._capture_image(spec, ref)}, '
            f"{changes}, '', NULL, '', NULL;"
        )

    def capture_own_triggers_sql(self, spec: Any) -> list[TriggerSQL]:
        """Return SQLite's row-level capture triggers of one table.

        SQLite fires the child's triggers for FK actions, so one ``AFTER DELETE`` trigger
        per captured table sees direct, raw-SQL and cascaded deletes alike and copies the
        row into the table's inbox; an ``AFTER UPDATE OF <fk>`` trigger records rows an
        FK action changed, recognised by their old parent being gone
        (https://www.sqlite.org/foreignkeys.html#fk_actions), in the event table.
        """
        out: list[TriggerSQL] = []
        if not spec.captured:
            return out
        table = spec.table
        name = self.capture_trigger_name("cd", table)
        cols = ", ".join(f'"{c.column}"' for c in spec.columns)
        values = ", ".join(f'OLD."{c.column}"' for c in spec.columns)
        out.append(
            (
                name,
                [
                    f'CREATE TRIGGER "{name}" AFTER DELETE ON "{table}" FOR EACH ROW BEGIN '
                    f'INSERT INTO "{spec.inbox}" ({cols}) VALUES ({values}); END'
                ],
                [f'DROP TRIGGER IF EXISTS "{name}"'],
            )
        )
        if spec.fk_columns:
            name = self.capture_trigger_name("cu", table)
            fks = ", ".join(f'"{c}"' for c, _t, _p in spec.fk_columns)
            when = " OR ".join(
                f'(OLD."{c}" IS NOT NEW."{c}" AND OLD."{c}" IS NOT NULL AND NOT EXISTS '
                f'(SELECT 1 FROM "{t}" WHERE "{p}" = OLD."{c}"))'
                for c, t, p in spec.fk_columns
            )
            changes = (
                "json_object("
                + ", ".join(
                    f'{self.capture_literal(c)}, NEW."{c}"' for c, _t, _p in spec.fk_columns
                )
                + ")"
            )
            out.append(
                (
                    name,
                    [
                        f'CREATE TRIGGER "{name}" AFTER UPDATE OF {fks} ON "{table}" '
                        f"FOR EACH ROW WHEN {when} BEGIN "
                        f"{self._capture_insert(spec, 'U', 'NEW', changes)} END"
                    ],
                    [f'DROP TRIGGER IF EXISTS "{name}"'],
                )
            )
        return out

    def capture_session_begin_sql(
        self, claim: str, lease: int | None, context: str | None
    ) -> list[tuple[str, list[Any]]]:
        """Read the event id floor (the triggers need nothing: see the section comment)."""
        return [('SELECT COALESCE(MAX("id"), 0) FROM "rowsync_deleted_row"', [])]

    def capture_session_end_sql(
        self, previous: tuple[str, int | None, str | None] | None
    ) -> list[tuple[str, list[Any]]]:
        """Return nothing: no session state was set."""
        return []

    def capture_stamp_sql(
        self, where: str, claim: str, lease: int | None, context: str | None
    ) -> tuple[str, list[Any]]:
        """Stamp claim, lease (UTC text, as Django stores datetimes) and missing context."""
        return (
            'UPDATE "rowsync_deleted_row" SET "claimed_by" = %s, "claimed_until" = '
            "CASE WHEN %s IS NULL THEN NULL ELSE strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now', "
            "'+' || %s || ' seconds') END, "
            '"context" = COALESCE("context", %s) WHERE ' + where,
            [claim, lease, lease, context],
        )
