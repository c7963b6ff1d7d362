"""SQLite: keep rowsync's triggers through Django's table rebuilds and flushes.

SQLite cannot alter most of a table, so Django's schema editor rebuilds it
(``_remake_table``: create ``new__<table>``, copy, drop, rename). Dropping the table
drops its triggers, and the final ``ALTER TABLE ... RENAME`` fails while a trigger on
another table names the dropped one ("error in trigger ...: no such table"). The guard
takes every ``rowsync_*`` trigger on or naming the table out before the rebuild and puts
the same SQL back after it (https://www.sqlite.org/lang_altertable.html#otheralter).

Django flushes SQLite with one ``DELETE FROM`` per table (``flush``,
``TransactionTestCase``), which would fire rowsync's triggers: a PROTECT trigger would
refuse the flush. The triggers are taken out for the flush and put back (same SQL) in
its transaction.

The rebuild guard is a subclass of the connection's ``SchemaEditorClass`` (the class
attribute Django reads for each ``schema_editor()``); the flush guard wraps the
operations class's ``execute_sql_flush`` through :func:`rowsync._patch.apply`, because
each connection builds its ``ops`` once, when it is created.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import DatabaseError, transaction
from django.db.backends.sqlite3.schema import DatabaseSchemaEditor
from django.db.models import Model

#: ``(name, table, sql)`` of every rowsync trigger.
TRIGGERS_SQL = (
    "SELECT name, tbl_name, sql FROM sqlite_master "
    "WHERE type = 'trigger' AND name LIKE 'rowsync\\_%' ESCAPE '\\'"
)


class RebuildGuard(DatabaseSchemaEditor):
    """Django's SQLite schema editor, keeping rowsync's triggers through ``_remake_table``."""

    def _remake_table(self, model: type[Model], *args: Any, **kwargs: Any) -> None:
        saved = self._rowsync_triggers(model._meta.db_table)
        for name, _sql in saved:
            self.execute(f"DROP TRIGGER IF EXISTS {self.quote_name(name)}", params=None)
        super()._remake_table(model, *args, **kwargs)  # type: ignore[misc]
        for _name, sql in saved:
            try:
                self.execute(sql, params=None)
            except DatabaseError:
                # The rebuild removed a column the trigger names; the migration that
                # removed it installs the replacement (and `rowsync check` reports it).
                continue

    def _rowsync_triggers(self, table: str) -> list[tuple[str, str]]:
        """Return ``(name, sql)`` of the rowsync triggers on ``table`` or naming it."""
        with self.connection.cursor() as cursor:
            cursor.execute(TRIGGERS_SQL)
            rows = cursor.fetchall()
        quoted = self.quote_name(table)
        return [(name, sql) for name, tbl, sql in rows if tbl == table or quoted in sql]


def flush_without_triggers(original: Callable[..., None]) -> Callable[..., None]:
    """Return ``execute_sql_flush`` running ``original`` with rowsync's triggers taken out."""

    def execute_sql_flush(self: Any, sql_list: list[str]) -> None:
        connection = self.connection
        with transaction.atomic(using=connection.alias):
            with connection.cursor() as cursor:
                cursor.execute(TRIGGERS_SQL)
                found = cursor.fetchall()
                # SQLite triggers fire per row (there are no statement triggers): only
                # those of tables holding rows now can fire. Leaving the others in place
                # spares a TransactionTestCase flush the DDL of the whole schema.
                filled = _tables_with_rows(cursor, connection, {tbl for _n, tbl, _s in found})
                saved = [(name, sql) for name, tbl, sql in found if tbl in filled]
                for name, _sql in saved:
                    cursor.execute(f"DROP TRIGGER IF EXISTS {connection.ops.quote_name(name)}")
            original(self, sql_list)
            with connection.cursor() as cursor:
                for _name, sql in saved:
                    cursor.execute(sql)

    return execute_sql_flush


def _tables_with_rows(cursor: Any, connection: Any, tables: set[str]) -> set[str]:
    """Return the names among ``tables`` that hold at least one row."""
    quote = connection.ops.quote_name
    filled: set[str] = set()
    for table in sorted(tables):
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {quote(table)})")
        if cursor.fetchone()[0]:
            filled.add(table)
    return filled
