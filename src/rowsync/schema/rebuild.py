"""Keep rowsync's triggers across Django's SQLite table rebuild.

SQLite cannot alter most of a table, so Django's schema editor rebuilds it
(``_remake_table``: create ``new__<table>``, copy, drop, rename). Dropping the table
drops its triggers, and the final ``ALTER TABLE ... RENAME`` fails while a trigger on
another table names the dropped one ("error in trigger ...: no such table"). The patch
takes every ``rowsync_*`` trigger on or naming the table out before the rebuild and
puts the same SQL back after it (https://www.sqlite.org/lang_altertable.html#otheralter).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import DatabaseError, transaction
from django.db.backends.sqlite3.schema import DatabaseSchemaEditor as SQLiteSchemaEditor
from django.db.models import Model

_SAVE_SQL = (
    "SELECT name, tbl_name, sql FROM sqlite_master "
    "WHERE type = 'trigger' AND name LIKE 'rowsync\\_%' ESCAPE '\\'"
)


def _affected(editor: SQLiteSchemaEditor, table: str) -> list[tuple[str, str]]:
    with editor.connection.cursor() as cursor:
        cursor.execute(_SAVE_SQL)
        rows = cursor.fetchall()
    quoted = editor.quote_name(table)
    return [(name, sql) for name, tbl, sql in rows if tbl == table or quoted in sql]


def _wrap(original: Callable[..., None]) -> Callable[..., None]:
    def _remake_table(
        self: SQLiteSchemaEditor, model: type[Model], *args: Any, **kwargs: Any
    ) -> None:
        saved = _affected(self, model._meta.db_table)
        for name, _sql in saved:
            self.execute(f"DROP TRIGGER IF EXISTS {self.quote_name(name)}", params=None)
        original(self, model, *args, **kwargs)
        for _name, sql in saved:
            try:
                self.execute(sql, params=None)
            except DatabaseError:
                # The rebuild removed a column the trigger names; the migration that
                # removed it installs the replacement (and `rowsync check` reports it).
                continue

    _remake_table.rowsync_patched = True  # type: ignore[attr-defined]
    _remake_table.__wrapped__ = original  # type: ignore[attr-defined]
    return _remake_table


def patch_sqlite_rebuild() -> None:
    """Wrap ``_remake_table`` of Django's SQLite schema editor (idempotent)."""
    # django-stubs does not declare the private _remake_table, hence getattr/setattr.
    current = getattr(SQLiteSchemaEditor, "_remake_table")  # noqa: B009
    if getattr(current, "rowsync_patched", False):
        return
    setattr(SQLiteSchemaEditor, "_remake_table", _wrap(current))  # noqa: B010


def _wrap_flush(original: Callable[..., None]) -> Callable[..., None]:
    def execute_sql_flush(self: Any, sql_list: list[str]) -> None:
        connection = self.connection
        with transaction.atomic(using=connection.alias):
            with connection.cursor() as cursor:
                cursor.execute(_SAVE_SQL)
                saved = [(name, sql) for name, _tbl, sql in cursor.fetchall()]
                for name, _sql in saved:
                    cursor.execute(f"DROP TRIGGER IF EXISTS {connection.ops.quote_name(name)}")
            original(self, sql_list)
            with connection.cursor() as cursor:
                for _name, sql in saved:
                    cursor.execute(sql)

    execute_sql_flush.rowsync_patched = True  # type: ignore[attr-defined]
    return execute_sql_flush


def patch_sqlite_flush() -> None:
    """Keep rowsync's triggers out of SQLite's flush (idempotent).

    Django flushes SQLite with one ``DELETE FROM`` per table (``flush``, ``TransactionTestCase``),
    which would fire rowsync's triggers: a PROTECT trigger would refuse the flush. The
    triggers are taken out for the flush and put back (same SQL) in its transaction.
    """
    # Through base: importing sqlite3.operations first is a circular import.
    from django.db.backends.sqlite3.base import DatabaseWrapper

    operations = DatabaseWrapper.ops_class
    current = operations.execute_sql_flush
    if getattr(current, "rowsync_patched", False):
        return
    operations.execute_sql_flush = _wrap_flush(current)  # type: ignore[method-assign]
