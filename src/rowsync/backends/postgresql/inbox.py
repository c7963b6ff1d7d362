"""PostgreSQL: the inbox tables, typed after the captured columns."""

from __future__ import annotations

import hashlib
import weakref
from typing import Any, ClassVar

from django.db import DatabaseError

from rowsync.backends.base import BaseBackend

# {driver connection: {statement: name it is prepared under, "" when preparing failed}}
_PREPARED: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()


class PostgreSQLInbox(BaseBackend):
    """PostgreSQL's inbox SQL."""

    def execute_often(self, cursor: Any, sql: str) -> None:
        """Run ``sql`` as a statement prepared once per connection, outside transactions.

        The worker's look into every inbox (one ``EXISTS`` each) took longer to plan than
        to run: about 0.2 of 0.4 ms with 40 inboxes, on every wake-up. ``PREPARE`` keeps
        the plan for the session (https://www.postgresql.org/docs/current/sql-prepare.html).
        Only in autocommit, where a failing statement aborts nothing: a connection where
        ``PREPARE`` or ``EXECUTE`` fails (a pooler handing out another server connection,
        ``DISCARD ALL``) runs the plain statement from then on.
        """
        connection = self.connection
        raw = connection.connection
        if raw is None or not connection.get_autocommit():
            cursor.execute(sql, [])
            return
        names = _PREPARED.setdefault(raw, {})
        name = names.get(sql)
        if name == "":
            cursor.execute(sql, [])
            return
        try:
            if name is None:
                name = "rowsync_" + hashlib.sha1(sql.encode()).hexdigest()[:20]
                cursor.execute(f"PREPARE {name} AS {sql}", [])
                names[sql] = name
            cursor.execute(f"EXECUTE {name}")
        except DatabaseError:
            names[sql] = ""
            cursor.execute(sql, [])

    capture_inbox: ClassVar[bool] = True
    inbox_text_type: ClassVar[str] = "text"
    # No sequence and no index: a nextval() and a B-tree entry per row cost as much as
    # the copy itself (docs/benchmarks.md). Sessions find their rows by the claim the
    # trigger writes; rows are told apart by ctid within a transaction.
    inbox_ordered: ClassVar[bool] = False
    inbox_row_id: ClassVar[str] = "ctid"

    #: Inbox column type per Django internal type: wide enough that altering the field
    #: within its kind (``max_length``, ``IntegerField`` to ``BigIntegerField``) keeps the
    #: inbox valid; other types are kept as text (an assignment cast exists from every type).
    _inbox_types: ClassVar[dict[str, str]] = {
        **dict.fromkeys(
            (
                "AutoField",
                "BigAutoField",
                "SmallAutoField",
                "IntegerField",
                "BigIntegerField",
                "SmallIntegerField",
                "PositiveIntegerField",
                "PositiveBigIntegerField",
                "PositiveSmallIntegerField",
            ),
            "bigint",
        ),
        "BooleanField": "boolean",
        "DateField": "date",
        "DateTimeField": "timestamp with time zone",
        "TimeField": "time",
        "DurationField": "interval",
        "DecimalField": "numeric",
        "FloatField": "double precision",
        "UUIDField": "uuid",
        "BinaryField": "bytea",
        "JSONField": "jsonb",
        "GenericIPAddressField": "inet",
        "IPAddressField": "inet",
    }

    def capture_inbox_sql(self, spec: Any) -> tuple[list[str], list[str]]:
        """Return the inbox table, its columns typed after the captured ones (no constraints)."""
        q = self.qn
        image = ", ".join(
            f"{q(c.column)} {self._inbox_types.get(c.internal, 'text')}" for c in spec.columns
        )
        install = [
            f"CREATE TABLE {q(spec.inbox)} ({q('rowsync_txid')} text NOT NULL DEFAULT '', "
            f"{q('rowsync_context')} jsonb, "
            f"{q('rowsync_claim')} text NOT NULL DEFAULT '', "
            f"{q('rowsync_until')} timestamp with time zone, {image})"
        ]
        moves = " ".join(sql + ";" for sql, _n in self.inbox_move_sql(spec, "1 = 1", None))
        uninstall = [
            f"DO $rowsync$ BEGIN IF to_regclass({self.capture_literal(q(spec.inbox))}) "
            f"IS NOT NULL THEN {moves} END IF; END $rowsync$",
            f"DROP TABLE IF EXISTS {q(spec.inbox)}",
        ]
        return install, uninstall

    def inbox_image_sql(self, spec: Any, ref: str) -> str:
        """Return the image as ``json_build_object`` over the image columns (JSON text)."""
        pairs = [
            f"{self.capture_literal(c.column)}, {ref}.{self.qn(c.column)}" for c in spec.columns
        ]
        if len(pairs) <= 50:
            return f"json_build_object({', '.join(pairs)})::text"
        # json_build_object takes at most 100 arguments: join groups of 50 columns.
        groups = [pairs[start : start + 50] for start in range(0, len(pairs), 50)]
        return "(" + " || ".join(f"jsonb_build_object({', '.join(g)})" for g in groups) + ")::text"

    def inbox_free_sql(self) -> str:
        """No claim, no lease, or a lease that ran out.

        A claim without a lease never outlives its transaction: committed rows that hold
        one were claimed by hand (or by a trigger frozen before claims were verified).
        """
        return (
            '("rowsync_claim" = \'\' OR "rowsync_until" IS NULL '
            'OR "rowsync_until" < clock_timestamp())'
        )

    def inbox_move_sql(self, spec: Any, where: str, limit: int | None) -> list[tuple[str, int]]:
        """Move rows with one statement: ``DELETE ... RETURNING`` feeding the ``INSERT``.

        With a limit, the rows are locked ``FOR UPDATE SKIP LOCKED``: workers running at
        once move different rows.
        """
        if limit is None:
            return super().inbox_move_sql(spec, where, limit)
        inbox = self.qn(spec.inbox)
        return [
            (
                f"WITH i AS (DELETE FROM {inbox} WHERE ctid = ANY(ARRAY(SELECT ctid FROM "
                f"{inbox} WHERE {where} LIMIT {int(limit)} FOR UPDATE SKIP LOCKED)) "
                f"RETURNING *) {self.inbox_insert_sql(spec, 'i')}",
                1,
            )
        ]

    inbox_take: ClassVar[bool] = True

    def inbox_take_sql(self, spec: Any, where: str, limit: int) -> str:
        """Take rows with one statement, locked ``FOR UPDATE SKIP LOCKED`` as a move is.

        The worker that delivers them deletes them in its delivering transaction: a
        wake-up is one transaction and one commit, and a rollback (a receiver that
        raised, a killed worker) leaves the rows in the inbox.
        """
        q, lit = self.qn, self.capture_literal
        inbox = q(spec.inbox)
        return (
            f"WITH i AS (DELETE FROM {inbox} WHERE ctid = ANY(ARRAY(SELECT ctid FROM "
            f"{inbox} WHERE {where} LIMIT {int(limit)} FOR UPDATE SKIP LOCKED)) "
            f"RETURNING *) SELECT 0, {lit(spec.model_label)}, {lit(spec.table)}, 'D', "
            f"CAST(i.{q(spec.pk_column)} AS text), {self.inbox_image_sql(spec, 'i')}, NULL, "
            f"i.{q('rowsync_context')}, 0, '' FROM i"
        )

    def image_bytes(self, text: str) -> bytes:
        """Return the bytes of a ``bytea`` value as ``to_jsonb`` spells it (``\\x`` + hex).

        PostgreSQL's text output of ``bytea`` is the hex format
        (https://www.postgresql.org/docs/current/datatype-binary.html); a payload written
        by :func:`rowsync.events.handoff.event_payload` has plain hex.
        """
        return bytes.fromhex(text[2:] if text.startswith("\\x") else text)
