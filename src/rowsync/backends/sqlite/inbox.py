"""SQLite: the inbox tables (untyped columns, ordered by rowid) and fast converters."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from django.conf import settings

from rowsync.backends.sqlite.capture import SQLiteCapture


class SQLiteInbox(SQLiteCapture):
    """SQLite's inbox SQL."""

    capture_inbox: ClassVar[bool] = True
    flush_walks_references: ClassVar[bool] = True

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

    def capture_floors_sql(self, specs: Sequence[Any]) -> str | None:
        """Read the event id floor and the inboxes' positions together (nothing is set)."""
        q = self.quote_name
        seq = q("rowsync_seq")
        return 'SELECT (SELECT COALESCE(MAX("id"), 0) FROM "rowsync_deleted_row"), ' + ", ".join(
            f"(SELECT COALESCE(MAX({seq}), 0) FROM {q(spec.inbox)})" for spec in specs
        )

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
