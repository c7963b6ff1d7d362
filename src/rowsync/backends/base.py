"""What every rowsync backend knows about its database engine.

A backend holds facts (feature flags) and SQL templates for one vendor. Callers ask
``get_backend(connection).some_feature`` instead of testing ``connection.vendor``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from django.db.backends.base.base import BaseDatabaseWrapper


class WorkerListener(Protocol):
    """A wake-up channel for an idle event worker (PostgreSQL ``LISTEN``)."""

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; return whether new events were announced."""

    def close(self) -> None:
        """Release the channel's connection."""


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

#: Longest object name, in UTF-8 bytes, that every engine keeps whole: PostgreSQL cuts
#: identifiers at 63 *bytes* (NAMEDATALEN - 1,
#: https://www.postgresql.org/docs/current/sql-syntax-lexical.html#SQL-SYNTAX-IDENTIFIERS),
#: MariaDB refuses names over 64 characters
#: (https://mariadb.com/kb/en/identifier-names/#maximum-length); SQLite has no limit.
MAX_NAME_BYTES = 63


def bounded_name(head: str, table: str, digest: str, room: int) -> str:
    """Return ``<head><table>_<digest>``, lowercase, within :data:`MAX_NAME_BYTES`.

    ``table`` is cut to ``room`` characters, then, for non-ASCII names, by whole
    characters until the name fits in 63 bytes, so the digest that keeps long names
    apart is never cut off by the engine. ASCII names are unchanged by the byte rule.
    """
    part = table.lower()[:room]
    tail = f"_{digest}"
    while len(f"{head}{part}{tail}".encode()) > MAX_NAME_BYTES and part:
        part = part[:-1]
    return f"{head}{part}{tail}"


class BaseBackend:
    """Facts and SQL for one database engine.

    Args:
        connection: The Django connection this backend describes.
    """

    vendor: ClassVar[str] = "base"

    #: Do FK ``ON DELETE`` actions fire row triggers on the child table?
    fk_actions_fire_triggers: ClassVar[bool] = True
    #: Does the engine accept ``ON DELETE SET DEFAULT``?
    supports_fk_set_default: ClassVar[bool] = True
    #: Does the engine have ``LISTEN/NOTIFY``-style wake-ups for workers?
    supports_notify: ClassVar[bool] = False
    #: Does ``SELECT ... FOR UPDATE SKIP LOCKED`` work?
    supports_skip_locked: ClassVar[bool] = False
    #: Deepest chain of FK actions the engine runs in one statement (None: unlimited).
    max_cascade_depth: ClassVar[int | None] = None

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self.connection = connection

    def quote_name(self, name: str) -> str:
        """Return ``name`` quoted for this engine."""
        return self.connection.ops.quote_name(name)

    def has_feature(self, name: str) -> bool:
        """Return the boolean feature flag ``name`` (False for unknown names)."""
        return bool(getattr(self, name, False))

    # --- worker ---
    #: Can an ``UPDATE`` pick its rows with a ``LIMIT``ed subquery on its own table?
    #: (MySQL/MariaDB: "This version ... doesn't yet support 'LIMIT & IN/ALL/ANY/SOME
    #: subquery'", https://dev.mysql.com/doc/refman/8.0/en/subquery-restrictions.html)
    worker_lease_update_subquery: ClassVar[bool] = True

    @property
    def worker_skip_locked(self) -> bool:
        """Return whether workers claim events with ``SELECT ... FOR UPDATE SKIP LOCKED``.

        Django knows the server version (MariaDB has SKIP LOCKED from 10.6, MySQL from 8.0).
        """
        features = self.connection.features
        return self.supports_skip_locked and bool(features.has_select_for_update_skip_locked)

    def worker_listener(self) -> WorkerListener | None:
        """Return a wake-up channel for idle workers, or None when they must poll."""
        return None

    def worker_refill_sql(self) -> list[str]:
        """Return statements that start a worker's refill of its queue from the inboxes.

        Run first in the refill's transaction (never on SQLite, whose first statement
        must be the write).
        """
        return []

    def worker_take_planner_sql(self) -> tuple[list[str], list[str]]:
        """Return statements to run before and after the take (planner settings)."""
        return [], []

    #: Must delivered events be deleted one ``WHERE id = %s`` at a time?
    worker_delete_one_by_one: ClassVar[bool] = False

    @property
    def worker_delete_returning(self) -> bool:
        """Return whether ``DELETE ... WHERE id IN (SELECT ... LIMIT n) RETURNING`` works."""
        return False

    def worker_take_sql(self, table: str, pk: str, columns: Sequence[str], subquery: str) -> str:
        """Return the statement that deletes the rows ``subquery`` selects, returning ``columns``.

        Args:
            table: The event table.
            pk: Its primary key column.
            columns: Columns to return, in order.
            subquery: ``SELECT pk FROM table ... LIMIT n`` (may lock: ``FOR UPDATE``).
        """
        q = self.quote_name
        returning = ", ".join(q(c) for c in columns)
        return f"DELETE FROM {q(table)} WHERE {q(pk)} IN ({subquery}) RETURNING {returning}"

    # --- schema objects ---
    #: Character that quotes identifiers, so SQL can be compiled without a connection.
    identifier_quote: ClassVar[str] = '"'

    def qn(self, name: str) -> str:
        """Return ``name`` quoted for this engine without asking the connection.

        Migrations freeze SQL for every engine at ``makemigrations`` time, when no
        connection to the other engines exists (see :func:`rowsync.backends.offline_backend`).
        """
        q = self.identifier_quote
        if name.startswith(q) and name.endswith(q):
            return name
        return f"{q}{name}{q}"

    def requote(self, sql: str) -> str:
        """Return ``sql``, written with double-quoted identifiers, quoted for this engine."""
        q = self.identifier_quote
        return sql if q == '"' else sql.replace('"', q)

    def literal_sql(self, value: object) -> str:
        """Return ``value`` (None, bool, int, float, str) as an SQL literal."""
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, int | float):
            return repr(value)
        text = str(value).replace("'", "''")
        return f"'{text}'"

    def installed_objects_sql(self) -> str:
        """Return a query listing ``(name, table)`` of every ``rowsync_*`` trigger/constraint."""
        raise NotImplementedError

    # --- on_delete ---
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

    # --- capture ---
    #: Event table the capture triggers write into (``rowsync.models.DeletedRow``).
    capture_event_table: ClassVar[str] = "rowsync_deleted_row"
    #: Columns every capture trigger fills; the others have database defaults.
    capture_event_columns: ClassVar[tuple[str, ...]] = (
        "model_label",
        "table_name",
        "op",
        "pk_text",
        "row",
        "changes",
        "txid",
        "context",
        "claimed_by",
        "claimed_until",
    )

    def capture_trigger_name(self, kind: str, table: str) -> str:
        """Return ``rowsync_<kind>_<table>_<hash5>``, lowercase, at most 63 bytes."""
        digest = hashlib.sha1(f"{kind}:{table}".encode()).hexdigest()[:5]
        return bounded_name(f"rowsync_{kind}_", table, digest, 63 - len(kind) - 16)

    def capture_literal(self, value: str) -> str:
        """Return ``value`` as a SQL string literal (identifiers and labels only)."""
        return "'" + value.replace("'", "''") + "'"

    def capture_triggers_sql(self, spec: Any) -> list[tuple[str, list[str], list[str]]]:
        """Return ``(name, install statements, uninstall statements)`` for each trigger.

        Args:
            spec: The table's ``rowsync.events.capture.CaptureSpec``.
        """
        raise NotImplementedError

    #: Does rolling the transaction back undo what :meth:`capture_session_begin_sql` set?
    #: If not, rowsync resets it even when the delete failed (MariaDB's user variables).
    capture_session_transactional: ClassVar[bool] = True

    def capture_session_begin_sql(
        self, claim: str, lease: int | None, context: str | None
    ) -> list[tuple[str, list[Any]]]:
        """Return the statements that make triggers stamp ``claim``/``lease``/``context``.

        Run inside the transaction, right before the delete. The last statement returns
        one row ``(floor,)``: every event the delete writes has an id above ``floor``.
        """
        raise NotImplementedError

    def capture_session_end_sql(
        self, previous: tuple[str, int | None, str | None] | None
    ) -> list[tuple[str, list[Any]]]:
        """Return the statements that stop stamping (run before the transaction ends).

        Args:
            previous: ``(claim, lease, context)`` of the enclosing session (sessions nest
                when a receiver deletes rows itself), or None.
        """
        raise NotImplementedError

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

    #: Do capture triggers leave ``claimed_by``/``context`` empty, for rowsync to stamp
    #: afterwards with :meth:`capture_stamp_sql` when the events must outlive the
    #: transaction claimed (engines without cheap session variables, where a per-row
    #: lookup of the session cost more than the rest of the trigger)?
    capture_stamps_later: ClassVar[bool] = False

    def capture_stamp_sql(
        self, where: str, claim: str, lease: int | None, context: str | None
    ) -> tuple[str, list[Any]]:
        """Return an ``UPDATE`` giving the events ``where`` selects a claim, lease and context.

        Args:
            where: SQL condition on the event table; its ``%s`` parameters follow the
                returned ones.
            claim: The token for ``claimed_by`` (``""``: free for the worker).
            lease: Seconds from now for ``claimed_until`` (None: no lease).
            context: Actor context (JSON text) for events that have none.
        """
        raise NotImplementedError

    # --- in-process delivery (rowsync.events.eventtable, rowsync.events.inbox) ----------
    # The statements a capture session runs on the event table and the inboxes once the
    # delete ran, and how row images spell what JSON cannot. Identifiers are written with
    # double quotes and requoted; every ``%s`` is a parameter.

    def image_bytes(self, text: str) -> bytes:
        """Return the bytes of a binary column as a JSON row image spells them (hex)."""
        return bytes.fromhex(text)

    def image_naive_datetimes_are_utc(self) -> bool:
        """Return whether a naive datetime in a row image is UTC (``USE_TZ`` engines).

        Django stores UTC without an offset on engines without time zone support
        (``features.supports_timezones``), and their triggers copy it as it is.
        """
        return not self.connection.features.supports_timezones

    def events_range_sql(self, verb: str) -> str:
        """Return ``verb`` (``SELECT <columns>``, ``DELETE``...) over one session's events.

        Parameters: the lowest id excluded, the highest included, the claim.
        """
        return self.requote(
            f'{verb} FROM "rowsync_deleted_row" '
            'WHERE "id" > %s AND "id" <= %s AND "claimed_by" = %s'
        )

    def events_max_id_sql(self, above: bool = False) -> str:
        """Return the highest event id (``above``: the lowest id above ``%s``)."""
        if above:
            return self.requote('SELECT MIN("id") FROM "rowsync_deleted_row" WHERE "id" > %s')
        return self.requote('SELECT MAX("id") FROM "rowsync_deleted_row"')

    def events_by_ids_sql(self, head: str, count: int) -> str:
        """Return ``head`` (``DELETE``, ``UPDATE ... SET``) for ``count`` event ids."""
        marks = ", ".join(["%s"] * count)
        return self.requote(f'{head} WHERE "id" IN ({marks})')

    def events_claim_sql(self, where: str) -> str:
        """Return the ``UPDATE`` setting ``claimed_by`` (first parameter) of events ``where``."""
        return self.requote(
            'UPDATE "rowsync_deleted_row" SET "claimed_by" = %s, "claimed_until" = NULL '
            f"WHERE {where}"
        )

    def events_drop_signalled_sql(self, count: int) -> str:
        """Return the ``DELETE`` of a session's events of ``count`` rows of one model.

        Parameters: the session's floor, its claim, the model label, the pks as text.
        """
        marks = ", ".join(["%s"] * count)
        return self.requote(
            'DELETE FROM "rowsync_deleted_row" WHERE "id" > %s AND "claimed_by" = %s '
            f'AND "model_label" = %s AND "pk_text" IN ({marks})'
        )

    def inbox_select_sql(self, spec: Any, columns: Sequence[str], where: str) -> str:
        """Return the ``SELECT`` of row id, context and ``columns`` of inbox rows ``where``."""
        q = self.quote_name
        order = f" ORDER BY {self.inbox_row_id}" if self.inbox_ordered else ""
        return (
            f"SELECT {self.inbox_row_id}, {q('rowsync_context')}, "
            + ", ".join(q(c) for c in columns)
            + f" FROM {q(spec.inbox)} WHERE {where}{order}"
        )

    def inbox_delete_sql(self, spec: Any, where: str, keep: int = 0, pks: int = 0) -> str:
        """Return the ``DELETE`` of inbox rows ``where``, but ``keep`` row ids / of ``pks`` pks.

        Parameters: those of ``where``, then the ``keep`` row ids or the ``pks`` as text.
        """
        q = self.quote_name
        sql = f"DELETE FROM {q(spec.inbox)} WHERE {where}"
        if keep:
            sql += f" AND {self.inbox_row_id} NOT IN ({', '.join(['%s'] * keep)})"
        if pks:
            pk = f"CAST({q(spec.pk_column)} AS {self.inbox_text_type})"
            sql += f" AND {pk} IN ({', '.join(['%s'] * pks)})"
        return sql

    def inbox_ceilings_sql(self, specs: Sequence[Any]) -> str:
        """Return one row: the highest ``rowsync_seq`` of each inbox (0 when empty)."""
        q = self.quote_name
        seq = q("rowsync_seq")
        return "SELECT " + ", ".join(
            f"(SELECT COALESCE(MAX({seq}), 0) FROM {q(spec.inbox)})" for spec in specs
        )

    def inbox_count_sql(self, specs: Sequence[Any]) -> str:
        """Return one row: how many rows the inboxes hold together."""
        q = self.quote_name
        return "SELECT " + " + ".join(f"(SELECT COUNT(*) FROM {q(spec.inbox)})" for spec in specs)

    def rows_lock_sql(self, table: str, where: str) -> str | None:
        """Return a ``SELECT`` locking the rows ``where`` of ``table`` (None: no row locks)."""
        if not self.connection.features.has_select_for_update:
            return None
        lock = self.connection.ops.for_update_sql()
        return self.requote(f'SELECT 1 FROM "{table}" WHERE {where} {lock}')

    # --- end of in-process delivery ---------------------------------------------------


class OfflineConnection:
    """Stand-in for a connection when SQL is compiled for an engine not configured here.

    Args:
        vendor: Django's vendor name (``sqlite``, ``postgresql``, ``mysql``).
    """

    alias = "__rowsync_offline__"

    def __init__(self, vendor: str) -> None:
        self.vendor = vendor
