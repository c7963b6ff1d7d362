"""SQLite: FK actions fire child triggers; triggers are lost when Django rebuilds a table."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any, ClassVar

from django.conf import settings

from rowsync.backends.base import BaseBackend, OnDeleteSpec, OnDeleteSQL


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

    # --- capture ---
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

    capture_inbox: ClassVar[bool] = True

    def capture_inbox_sql(self, spec: Any) -> tuple[list[str], list[str]]:
        """Return the inbox table: untyped columns keep every value as the table stores it.

        ``rowsync_seq`` is the rowid (https://www.sqlite.org/lang_createtable.html#rowid):
        new rows get ``MAX(rowid) + 1``, so rows a delete adds come after those before it.
        """
        q = self.qn
        image = ", ".join(q(c.column) for c in spec.columns)
        install = [
            f"CREATE TABLE {q(spec.inbox)} ({q('rowsync_seq')} INTEGER PRIMARY KEY, "
            f"{q('rowsync_txid')} TEXT NOT NULL DEFAULT '', {q('rowsync_context')} TEXT, "
            f"{q('rowsync_claim')} TEXT NOT NULL DEFAULT '', {q('rowsync_until')} TEXT, "
            f"{image})"
        ]
        uninstall = [sql for sql, _n in self.inbox_move_sql(spec, "1 = 1", None)]
        uninstall.append(f"DROP TABLE IF EXISTS {q(spec.inbox)}")
        return install, uninstall

    def fast_converter(self, converter: Callable[..., Any]) -> Callable[..., Any]:
        """Swap Django's datetime converter for one doing the same in fewer steps.

        Django's parses with ``parse_datetime`` (``datetime.fromisoformat`` first) and
        makes the value aware in the connection's time zone; so does this, falling back
        to Django's converter for any text ``fromisoformat`` refuses.
        """
        # Through base: importing sqlite3.operations first is a circular import.
        from django.db.backends.sqlite3.base import DatabaseWrapper

        django_converter = DatabaseWrapper.ops_class.convert_datetimefield_value
        if getattr(converter, "__func__", None) is not django_converter:
            return converter
        parse = datetime.datetime.fromisoformat
        naive = datetime.datetime

        def convert(value: Any, expression: Any, connection: Any) -> Any:
            if value is None:
                return None
            if type(value) is str:
                try:
                    value = parse(value)
                except ValueError:
                    return converter(value, expression, connection)
            elif type(value) is not naive:
                return converter(value, expression, connection)
            if value.tzinfo is None and settings.USE_TZ:
                value = value.replace(tzinfo=connection.timezone)
            return value

        return convert

    def inbox_image_sql(self, spec: Any, ref: str) -> str:
        """Return the ``json_object`` the row-level triggers used to write."""
        return self._capture_image(spec, ref)

    def inbox_free_sql(self) -> str:
        """No claim, or a lease that ran out (leases are UTC text, as Django stores them)."""
        return (
            '("rowsync_claim" = \'\' OR ("rowsync_until" IS NOT NULL AND '
            "\"rowsync_until\" < strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now')))"
        )

    def inbox_stamp_sql(self, spec: Any, where: str) -> str:
        """Stamp claim, lease and context (the triggers write none: see above)."""
        return (
            f'UPDATE "{spec.inbox}" SET "rowsync_claim" = %s, "rowsync_until" = '
            "CASE WHEN %s IS NULL THEN NULL ELSE strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now', "
            "'+' || %s || ' seconds') END, "
            f'"rowsync_context" = COALESCE("rowsync_context", %s) WHERE {where}'
        )

    def capture_triggers_sql(self, spec: Any) -> list[tuple[str, list[str], list[str]]]:
        """Return SQLite's row-level capture triggers of one table.

        SQLite fires the child's triggers for FK actions, so one ``AFTER DELETE`` trigger
        per captured table sees direct, raw-SQL and cascaded deletes alike and copies the
        row into the table's inbox; an ``AFTER UPDATE OF <fk>`` trigger records rows an
        FK action changed, recognised by their old parent being gone
        (https://www.sqlite.org/foreignkeys.html#fk_actions), in the event table.
        """
        out: list[tuple[str, list[str], list[str]]] = []
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

    # --- worker ---
    @property
    def worker_delete_returning(self) -> bool:
        """Return whether SQLite has ``RETURNING`` (3.35+, https://www.sqlite.org/lang_returning.html).

        The ``DELETE`` is then the transaction's first statement and takes the write lock
        at once.
        """
        return bool(self.connection.features.can_return_columns_from_insert)
