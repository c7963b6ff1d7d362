"""PostgreSQL: capture triggers (statement-level with transition tables) and the capture
session (a row of ``rowsync_capture_session`` named by a transaction-local setting)."""

from __future__ import annotations

from typing import Any, ClassVar

from rowsync.backends.base import BaseBackend, TriggerSQL
from rowsync.backends.postgresql.worker import CHANNEL


class PostgreSQLCapture(BaseBackend):
    """PostgreSQL's capture triggers and capture session."""

    # Claim, lease and actor context live in a row of rowsync_capture_session that the
    # deleting transaction inserts (and deletes again before it ends, so it is never
    # committed); a transaction-local setting, rowsync.session
    # (set_config(..., true), https://www.postgresql.org/docs/current/functions-admin.html),
    # names the row. Any session can set any setting, but no other transaction can see the
    # row: a claim or an actor set by hand is ignored, and the rows go to the worker
    # (docs/security.md). rowsync.claim/lease/context are still set for triggers frozen
    # into older migrations.
    capture_session_tables: ClassVar[tuple[str, ...]] = ("rowsync_capture_session",)

    #: plpgsql declarations; the session row is read once per trigger call, so the INSERT
    #: gets claim, lease and context as constants.
    _capture_declare = (
        "DECLARE v_claim text; v_context jsonb; v_until timestamptz; "
        "v_session text := current_setting('rowsync.session', true); "
        "v_txid text := pg_current_xact_id()::text; "
    )
    _capture_session_read = (
        "IF v_session ~ '^[0-9]{1,18}$' THEN "
        'SELECT s."claim", NULLIF(s."context", \'\')::jsonb, '
        'clock_timestamp() + make_interval(secs => s."lease") '
        "INTO v_claim, v_context, v_until "
        'FROM "rowsync_capture_session" s WHERE s."id" = v_session::bigint; '
        "END IF; v_claim := COALESCE(v_claim, ''); "
    )

    def _trigger_function_sql(self, name: str, body: str) -> list[str]:
        """Return a plpgsql trigger function running ``body`` with a pinned ``search_path``.

        The function reads the capture session and writes rowsync's tables by plain
        names: the ``search_path`` of the deleting session must not choose which tables
        those are (a temporary or earlier-schema table named like an inbox). It is pinned
        to ``pg_catalog``, the schema the migration runs in, then ``pg_temp``
        (https://www.postgresql.org/docs/current/sql-createfunction.html#SQL-CREATEFUNCTION-SECURITY);
        the schema is read when the migration runs, so frozen SQL fits any schema.
        """
        return [
            f'CREATE OR REPLACE FUNCTION "{name}"() RETURNS trigger LANGUAGE plpgsql '
            f"AS $rowsync$ {self._capture_declare}BEGIN {self._capture_session_read}{body} "
            "RETURN NULL; END $rowsync$",
            "DO $rowsync$ BEGIN EXECUTE format('ALTER FUNCTION %I() SET search_path = "
            f"pg_catalog, %I, pg_temp', {self.capture_literal(name)}, current_schema()); "
            "END $rowsync$",
        ]

    def _capture_image(self, spec: Any, ref: str) -> str:
        # row_to_json() writes JSON text: building jsonb instead cost about as much as the
        # rest of the capture (docs/benchmarks.md). Sensitive columns can only be removed
        # by name from jsonb.
        if not spec.excluded_columns:
            return f"row_to_json({ref})::text"
        return (
            f"(to_jsonb({ref})"
            + "".join(f" - {self.capture_literal(column)}" for column in spec.excluded_columns)
            + ")::text"
        )

    def _capture_select(self, spec: Any, op: str, ref: str, changes: str) -> str:
        lit = self.capture_literal
        cols = ", ".join(f'"{c}"' for c in self.capture_event_columns)
        return (
            f'INSERT INTO "{self.capture_event_table}" ({cols}) '
            f"SELECT {lit(spec.model_label)}, {lit(spec.table)}, {lit(op)}, "
            f'{ref}."{spec.pk_column}"::text, {self._capture_image(spec, ref)}, {changes}, '
            "v_txid, v_context, v_claim, v_until"
        )

    def _notify_unclaimed_sql(self, wrote: str) -> str:
        """Return plpgsql that wakes idle workers when rows were written for no session.

        The capture triggers notify, not the event table: an ``INSERT`` statement that
        moves zero rows (an idle worker's refill) must wake nobody.
        """
        return f"IF v_claim = '' AND {wrote} THEN PERFORM pg_notify('{CHANNEL}', ''); END IF;"

    def capture_own_triggers_sql(self, spec: Any) -> list[TriggerSQL]:
        """Return PostgreSQL's capture triggers of one table.

        Deletes: one ``AFTER DELETE ... FOR EACH STATEMENT`` trigger with a transition
        table, fired once per statement, cascades included, with every deleted row
        (https://www.postgresql.org/docs/current/sql-createtrigger.html), copied with one
        ``INSERT ... SELECT`` into the table's inbox; claim, lease and actor context are
        read once per statement. Rows nobody claimed wake the workers (``NOTIFY``, sent
        on commit). Updates by FK actions: a row-level trigger whose
        ``WHEN pg_trigger_depth() >= 1`` lets ordinary ``UPDATE`` statements pass without
        a call (transition tables are refused with column lists); they go to the event
        table.
        """
        if not spec.captured:
            return []
        out = [self._delete_trigger_sql(spec)]
        if spec.fk_columns:
            out.append(self._update_trigger_sql(spec))
        return out

    def _delete_trigger_sql(self, spec: Any) -> TriggerSQL:
        """Return the statement-level trigger copying deleted rows into the inbox."""
        table = spec.table
        name = self.capture_trigger_name("cd", table)
        meta = '"rowsync_txid", "rowsync_context", "rowsync_claim", "rowsync_until"'
        cols = ", ".join(f'"{c.column}"' for c in spec.columns)
        values = ", ".join(f'o."{c.column}"' for c in spec.columns)
        body = (
            f'INSERT INTO "{spec.inbox}" ({meta}, {cols}) '
            f'SELECT v_txid, v_context, v_claim, v_until, {values} FROM "rowsync_old" o; '
            f"{self._notify_unclaimed_sql('FOUND')}"
        )
        return (
            name,
            [
                *self._trigger_function_sql(name, body),
                f'CREATE TRIGGER "{name}" AFTER DELETE ON "{table}" '
                'REFERENCING OLD TABLE AS "rowsync_old" FOR EACH STATEMENT '
                f'EXECUTE FUNCTION "{name}"()',
            ],
            [
                f'DROP TRIGGER IF EXISTS "{name}" ON "{table}"',
                f'DROP FUNCTION IF EXISTS "{name}"()',
            ],
        )

    def _update_trigger_sql(self, spec: Any) -> TriggerSQL:
        """Return the row-level trigger recording rows an FK action changed."""
        table = spec.table
        name = self.capture_trigger_name("cu", table)
        fks = ", ".join(f'"{c}"' for c, _t, _p in spec.fk_columns)
        changed = " OR ".join(
            f'OLD."{c}" IS DISTINCT FROM NEW."{c}"' for c, _t, _p in spec.fk_columns
        )
        changes = (
            "jsonb_build_object("
            + ", ".join(f'{self.capture_literal(c)}, NEW."{c}"' for c, _t, _p in spec.fk_columns)
            + ")"
        )
        body = (
            self._capture_select(spec, "U", "NEW", changes)
            + "; "
            + self._notify_unclaimed_sql("TRUE")
        )
        return (
            name,
            [
                *self._trigger_function_sql(name, body),
                f'CREATE TRIGGER "{name}" AFTER UPDATE OF {fks} ON "{table}" '
                f"FOR EACH ROW WHEN (pg_trigger_depth() >= 1 AND ({changed})) "
                f'EXECUTE FUNCTION "{name}"()',
            ],
            [
                f'DROP TRIGGER IF EXISTS "{name}" ON "{table}"',
                f'DROP FUNCTION IF EXISTS "{name}"()',
            ],
        )

    def capture_session_begin_sql(
        self, claim: str, lease: int | None, context: str | None
    ) -> list[tuple[str, list[Any]]]:
        """Insert the session row, name it in ``rowsync.session``, read the id floor.

        The enclosing session's row id is kept in ``rowsync.outer_<id>`` for
        :meth:`capture_session_end_sql`. All in one query.
        """
        lease_text = "" if lease is None else str(lease)
        return [
            (
                "WITH o AS MATERIALIZED (SELECT COALESCE(current_setting('rowsync.session', "
                "true), '') AS v), "
                's AS (INSERT INTO "rowsync_capture_session" ("claim", "lease", "context") '
                'VALUES (%s, %s, %s) RETURNING "id") '
                "SELECT set_config('rowsync.outer_' || s.\"id\", o.v, true), "
                "set_config('rowsync.session', s.\"id\"::text, true), "
                "set_config('rowsync.claim', %s, true), "
                "set_config('rowsync.lease', %s, true), "
                "set_config('rowsync.context', %s, true), "
                '(SELECT COALESCE(MAX("id"), 0) FROM "rowsync_deleted_row") FROM s, o',
                [claim, lease, context, claim, lease_text, context or ""],
            )
        ]

    def capture_session_end_sql(
        self, previous: tuple[str, int | None, str | None] | None
    ) -> list[tuple[str, list[Any]]]:
        """Delete the session row; restore the enclosing session's (or clear them)."""
        claim, lease, context = previous or ("", None, None)
        return [
            (
                'WITH d AS (DELETE FROM "rowsync_capture_session" WHERE "id" = '
                "NULLIF(current_setting('rowsync.session', true), '')::bigint "
                'RETURNING "id") '
                "SELECT set_config('rowsync.session', "
                "COALESCE(current_setting('rowsync.outer_' || d.\"id\", true), ''), true), "
                "set_config('rowsync.claim', %s, true), "
                "set_config('rowsync.lease', %s, true), "
                "set_config('rowsync.context', %s, true) "
                "FROM (SELECT 1) one LEFT JOIN d ON true",
                [claim, "" if lease is None else str(lease), context or ""],
            )
        ]
