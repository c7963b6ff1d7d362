"""Inbox tables: where the delete triggers copy deleted rows, typed, and how rowsync
moves them into the event table."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from rowsync.backends.base.capture import CaptureMixin
from rowsync.backends.base.core import patch_own

#: The inbox tables of a database alias (given by ``rowsync.events``).
InboxTables = Callable[[str], Sequence[str]]


def _with_inboxes(tables: InboxTables) -> Callable[[Any], Any]:
    def make(original: Callable[..., list[str]]) -> Callable[..., list[str]]:
        def django_table_names(
            self: Any, only_existing: bool = False, include_views: bool = True
        ) -> list[str]:
            names = list(original(self, only_existing, include_views))
            if only_existing:
                boxes = tables(self.connection.alias)
                if boxes:
                    existing = set(self.table_names())
                    names += [name for name in boxes if name in existing and name not in names]
            return names

        return django_table_names

    return make


def _inboxes_apart(tables: InboxTables) -> Callable[[Any], Any]:
    def make(original: Callable[..., list[str]]) -> Callable[..., list[str]]:
        def sql_flush(
            self: Any,
            style: Any,
            flushed: Sequence[str],
            *,
            reset_sequences: bool = False,
            allow_cascade: bool = False,
        ) -> list[str]:
            boxes = set(tables(self.connection.alias))
            mine = [name for name in flushed if name in boxes]
            rest = [name for name in flushed if name not in boxes]
            sql = (
                original(
                    self,
                    style,
                    rest,
                    reset_sequences=reset_sequences,
                    allow_cascade=allow_cascade,
                )
                if rest or not mine
                else []
            )
            delete, from_ = style.SQL_KEYWORD("DELETE"), style.SQL_KEYWORD("FROM")
            return sql + [
                f"{delete} {from_} {style.SQL_FIELD(self.quote_name(name))};" for name in mine
            ]

        return sql_flush

    return make


class InboxMixin(CaptureMixin):
    """Flags and SQL of the per-table inboxes (``rowsync.events.inbox``)."""

    def include_in_flush(self, tables: InboxTables) -> None:
        """Make Django's ``flush`` on this engine empty the inboxes too (idempotent).

        ``flush`` (and ``TransactionTestCase``) empties the tables
        ``introspection.django_table_names(only_existing=True)`` lists: the models'
        tables, ``rowsync_deleted_row`` included, but not the inboxes, which no model
        owns. This engine's introspection class then adds ``tables(alias)`` that exist.
        Where ``sql_flush`` walks the tables referencing each flushed table
        (``flush_walks_references``), the inboxes, which reference nothing and which
        nothing references, are emptied apart from that walk. Nothing on engines without
        inboxes.
        """
        if not self.capture_inbox:
            return
        introspection = type(self.connection).introspection_class
        patch_own(introspection, "django_table_names", _with_inboxes(tables), feature="events")
        if self.flush_walks_references:
            ops = type(self.connection).ops_class
            patch_own(ops, "sql_flush", _inboxes_apart(tables), feature="events")

    # Inbox tables (rowsync.events.inbox): the delete triggers of a captured table copy
    # each deleted row, typed, into the table's own inbox, the cheapest write a trigger
    # can make; rowsync moves the rows into the event table (as JSON) when a worker or an
    # in-process delivery needs them there.
    #: Do the capture triggers write deleted rows into per-table inbox tables?
    capture_inbox: ClassVar[bool] = False
    #: Does the inbox have ``rowsync_seq``, increasing with each row written? Sessions
    #: then find their rows by a sequence range (plus the claim); otherwise by the claim
    #: alone, which the triggers must then write.
    inbox_ordered: ClassVar[bool] = True
    #: Does Django's ``sql_flush(allow_cascade=True)`` find the referencing tables one
    #: query per flushed table (SQLite: REGEXP over the schema's SQL, 512 tables cached)?
    flush_walks_references: ClassVar[bool] = False
    #: Expression identifying an inbox row within a transaction.
    inbox_row_id: ClassVar[str] = '"rowsync_seq"'

    def capture_inbox_sql(self, spec: Any) -> tuple[list[str], list[str]]:
        """Return ``(install, uninstall)`` statements of ``spec``'s inbox table.

        The uninstall statements first move the rows still in the inbox into the event
        table, so replacing an inbox (a changed model) loses no event.
        """
        raise NotImplementedError

    def inbox_image_sql(self, spec: Any, ref: str) -> str:
        """Return the JSON row image of an inbox row ``ref`` (the event table's ``row``)."""
        raise NotImplementedError

    def inbox_free_sql(self) -> str:
        """Return the condition on an inbox row that a worker may move it (no live lease)."""
        raise NotImplementedError

    def inbox_holding_sql(self, specs: Sequence[Any]) -> str:
        """Return one row: for each inbox, 1 if it holds a row a worker may move, else 0.

        One statement for every inbox: a worker woken with nothing to move (the rows were
        moved by the session that deleted them) pays one round trip, not one per inbox.
        """
        q = self.quote_name
        free = self.inbox_free_sql()
        return "SELECT " + ", ".join(
            f"CASE WHEN EXISTS (SELECT 1 FROM {q(spec.inbox)} WHERE {free}) THEN 1 ELSE 0 END"
            for spec in specs
        )

    def inbox_holding_queue_sql(self, specs: Sequence[Any]) -> str:
        """Return :meth:`inbox_holding_sql` with one more column: 1 if the event table holds
        a pending event (due now or later, leased or not: no clock is compared).

        A worker that takes inbox rows in its batch (:attr:`inbox_take`) then skips the
        take on the event table when it holds nothing pending: events written later
        announce themselves (``NOTIFY``), and the poll finds the rest.
        """
        q = self.qn
        pending = f"SELECT 1 FROM {q(self.capture_event_table)} WHERE {q('status')} = 'P'"
        queue = f"CASE WHEN EXISTS ({pending}) THEN 1 ELSE 0 END"
        return f"{self.inbox_holding_sql(specs)}, {queue}" if specs else f"SELECT {queue}"

    def execute_often(self, cursor: Any, sql: str) -> None:
        """Run ``sql`` (``%%`` for ``%``, no parameters), sent on every worker wake-up.

        Here a plain ``execute``; an engine may keep it planned once per connection.
        """
        cursor.execute(sql, [])

    def inbox_move_sql(self, spec: Any, where: str, limit: int | None) -> list[tuple[str, int]]:
        """Return the statements that move inbox rows ``where`` selects into the event table.

        Args:
            spec: The captured table's ``CaptureSpec``.
            where: Condition on the inbox rows, with ``%s`` parameters.
            limit: Move at most this many rows, oldest first (None: all).

        Returns:
            ``(sql, n)`` pairs, run in order in one transaction: the statement takes the
            parameters of ``where`` ``n`` times.
        """
        q = self.qn
        inbox = q(spec.inbox)
        seq = q("rowsync_seq")
        order = f" ORDER BY i.{seq}" if self.inbox_ordered else ""
        move = self.inbox_insert_sql(spec, f"{inbox} i WHERE {{where}}{order}")
        if limit is None:
            return [
                (move.format(where=where), 1),
                (f"DELETE FROM {inbox} WHERE {where}", 1),
            ]
        bound = (
            f"(SELECT MAX(b.{seq}) FROM (SELECT {seq} FROM {inbox} WHERE {where} "
            f"ORDER BY {seq} LIMIT {int(limit)}) b)"
        )
        return [
            (move.format(where=f"({where}) AND i.{seq} <= {bound}"), 2),
            (f"DELETE FROM {inbox} WHERE ({where}) AND {seq} <= {bound}", 2),
        ]

    #: Can a worker take inbox rows as events, deleting them, in the transaction that
    #: delivers them (:meth:`inbox_take_sql`), instead of moving them into the event table
    #: in a transaction of its own first?
    inbox_take: ClassVar[bool] = False

    def inbox_take_sql(self, spec: Any, where: str, limit: int) -> str:
        """Return a statement deleting up to ``limit`` inbox rows ``where`` selects.

        It returns each row as the worker reads an event (``rowsync.events.claim.COLUMNS``:
        id 0, model label, table, op, pk text, JSON image, no changes, context, 0 attempts,
        no phase). Only where :attr:`inbox_take` is True.
        """
        raise NotImplementedError

    def inbox_insert_sql(self, spec: Any, source: str) -> str:
        """Return ``INSERT INTO`` the event table ``SELECT`` the rows of ``source``.

        Args:
            spec: The captured table's ``CaptureSpec``.
            source: What follows ``FROM``: inbox rows aliased ``i`` (and a condition).
        """
        q = self.qn
        cols = ", ".join(q(c) for c in self.capture_event_columns)
        return (
            f"INSERT INTO {q(self.capture_event_table)} ({cols}) "
            f"SELECT {self.capture_literal(spec.model_label)}, "
            f"{self.capture_literal(spec.table)}, 'D', "
            f"CAST(i.{q(spec.pk_column)} AS {self.inbox_text_type}), "
            f"{self.inbox_image_sql(spec, 'i')}, NULL, i.{q('rowsync_txid')}, "
            f"i.{q('rowsync_context')}, i.{q('rowsync_claim')}, i.{q('rowsync_until')} "
            f"FROM {source}"
        )

    def fast_converter(self, converter: Callable[..., Any]) -> Callable[..., Any]:
        """Return an equivalent of Django's result converter ``converter``, maybe faster.

        Delivery straight from an inbox converts every value the way a query result is
        converted; an engine may swap in a quicker function that returns the same values.
        """
        return converter

    #: The SQL type a primary key is cast to for ``pk_text``.
    inbox_text_type: ClassVar[str] = "TEXT"

    def inbox_stamp_sql(self, spec: Any, where: str) -> str:
        """Return an ``UPDATE`` setting claim, lease and missing context of inbox rows.

        Its parameters: claim, lease seconds (twice; None for no lease), context, then
        those of ``where``.
        """
        raise NotImplementedError
