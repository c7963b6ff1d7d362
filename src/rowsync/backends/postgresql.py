"""PostgreSQL: FK actions fire child triggers, LISTEN/NOTIFY and SKIP LOCKED are available."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.backends.base.base import BaseDatabaseWrapper

from rowsync.backends.base import BaseBackend, OnDeleteSpec, OnDeleteSQL, WorkerListener


class PostgreSQLBackend(BaseBackend):
    """PostgreSQL 14+."""

    vendor: ClassVar[str] = "postgresql"
    fk_actions_fire_triggers: ClassVar[bool] = True
    supports_notify: ClassVar[bool] = True
    supports_skip_locked: ClassVar[bool] = True

    # --- worker ---
    @property
    def worker_delete_returning(self) -> bool:
        """Return True: ``DELETE ... RETURNING`` around a ``SKIP LOCKED`` subquery.

        The classic queue pattern
        (https://www.postgresql.org/docs/current/sql-select.html#SQL-FOR-UPDATE-SHARE).
        """
        return True

    def worker_refill_sql(self) -> list[str]:
        """Mark the transaction as a refill: the event table's trigger then sends no ``NOTIFY``.

        The worker delivers what it moves itself, and rows nobody claims woke the workers
        when the capture trigger wrote them; a refill that moved nothing (an idle worker)
        must not wake that same worker again (migration ``rowsync.0006``).
        """
        return ["SELECT set_config('rowsync.refill', 'on', true)"]

    def worker_take_planner_sql(self) -> tuple[list[str], list[str]]:
        """Walk an index in id order for the take, whatever the statistics say.

        A queue table's statistics are nearly always stale (it fills and empties between
        two autovacuum runs); planned for the handful of rows ANALYZE last saw, the take
        read every pending row with a bitmap scan and sorted them: 30 ms per batch over a
        100,000-event backlog instead of 1 ms. Switched off for this one statement
        (``SET LOCAL``, https://www.postgresql.org/docs/current/runtime-config-query.html).
        """
        return (
            ["SET LOCAL enable_bitmapscan = off", "SET LOCAL enable_sort = off"],
            ["SET LOCAL enable_bitmapscan TO DEFAULT", "SET LOCAL enable_sort TO DEFAULT"],
        )

    #: ``NOTIFY`` channel that announces new events to idle workers.
    worker_channel: ClassVar[str] = "rowsync_events"

    def worker_listener(self) -> WorkerListener | None:
        """Return a ``LISTEN`` channel on a connection of its own.

        A separate connection keeps the ``LISTEN`` alive when Django closes or replaces
        the worker's own connection (``CONN_MAX_AGE``, errors).
        """
        return PostgreSQLListener(self.connection, self.worker_channel)

    def worker_notify_sql(self) -> str:
        """Return the statement that wakes up idle workers (sent on commit only).

        PostgreSQL delivers a ``NOTIFY`` when the transaction commits, and drops it on
        rollback (https://www.postgresql.org/docs/current/sql-notify.html).
        """
        return f"SELECT pg_notify('{self.worker_channel}', '')"

    # --- schema objects ---
    def installed_objects_sql(self) -> str:
        """Return a query listing ``(name, table)`` of rowsync's triggers and constraints."""
        return (
            "SELECT t.tgname, c.relname FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE NOT t.tgisinternal AND t.tgname LIKE 'rowsync\\_%' "
            "AND n.nspname = current_schema() "
            "UNION ALL "
            "SELECT k.conname, c.relname FROM pg_constraint k "
            "JOIN pg_class c ON c.oid = k.conrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE k.conname LIKE 'rowsync\\_%' AND n.nspname = current_schema() "
            "UNION ALL "
            "SELECT c.relname, c.relname FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'r' AND c.relname LIKE 'rowsync\\_cb\\_%' "
            "AND n.nspname = current_schema()"
        )

    # --- on_delete ---
    #: PostgreSQL's NAMEDATALEN - 1, what Django shortens its constraint names to.
    django_max_name_length: ClassVar[int] = 63

    def on_delete_sql(self, spec: OnDeleteSpec) -> OnDeleteSQL | None:
        """Return Django's FK constraint with the action, or a trigger for SET/SET_DEFAULT.

        The constraint replaces Django's (same columns, still ``DEFERRABLE INITIALLY
        DEFERRED``, the DDL Django 6.1 emits for ``DB_CASCADE``); reversing puts Django's
        back. A second constraint next to Django's would double the per-row work of a
        cascade (one deferred ``NO ACTION`` check per deleted row). PROTECT is
        ``ON DELETE RESTRICT``, which PostgreSQL never defers
        (https://www.postgresql.org/docs/current/ddl-constraints.html#DDL-CONSTRAINTS-FK).
        """
        q = self.qn
        child, col, name = q(spec.table), q(spec.column), q(spec.name)
        action = {"CASCADE": "CASCADE", "SET_NULL": "SET NULL", "PROTECT": "RESTRICT"}.get(
            spec.operation
        )
        if action is not None:
            django_fk = q(spec.django_fk_name)
            ref = f"{q(spec.ref_table)} ({q(spec.ref_column)})"
            install = [
                f"ALTER TABLE {child} DROP CONSTRAINT IF EXISTS {django_fk}",
                f"ALTER TABLE {child} ADD CONSTRAINT {name} FOREIGN KEY ({col}) "
                f"REFERENCES {ref} ON DELETE {action} DEFERRABLE INITIALLY DEFERRED",
            ]
            uninstall = [
                f"ALTER TABLE {child} DROP CONSTRAINT IF EXISTS {name}",
                f"ALTER TABLE {child} ADD CONSTRAINT {django_fk} FOREIGN KEY ({col}) "
                f"REFERENCES {ref} DEFERRABLE INITIALLY DEFERRED",
            ]
            return ("constraint", install, uninstall)
        if spec.operation not in ("SET", "SET_DEFAULT"):
            return None
        old = f"OLD.{q(spec.ref_column)}"
        # An AFTER trigger: a BEFORE trigger returning NULL would silently skip the delete.
        function = (
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $rowsync$\n"
            f"BEGIN\n"
            f"  IF EXISTS (SELECT 1 FROM {child} WHERE {col} = {old}) THEN\n"
            f"    IF {self.set_guard_condition(spec, old)} THEN\n"
            f"      RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',\n"
            f"        MESSAGE = '{self.refusal_message(spec)}';\n"
            f"    END IF;\n"
            f"    UPDATE {child} SET {col} = ({spec.value_sql}) WHERE {col} = {old};\n"
            f"  END IF;\n"
            f"  RETURN NULL;\n"
            f"END $rowsync$"
        )
        install = [
            function,
            f"CREATE TRIGGER {name} AFTER DELETE ON {q(spec.ref_table)} "
            f"FOR EACH ROW EXECUTE FUNCTION {name}()",
        ]
        uninstall = [
            f"DROP TRIGGER IF EXISTS {name} ON {q(spec.ref_table)}",
            f"DROP FUNCTION IF EXISTS {name}()",
        ]
        return ("trigger", install, uninstall)

    def restrict_check_sql(self, table: str, constraint: str) -> list[str]:
        """Return ``SET CONSTRAINTS ... IMMEDIATE`` (checks now) and back to DEFERRED.

        (https://www.postgresql.org/docs/current/sql-set-constraints.html)
        """
        name = self.qn(constraint)
        return [f"SET CONSTRAINTS {name} IMMEDIATE", f"SET CONSTRAINTS {name} DEFERRED"]

    # --- capture ---
    # Claim, lease and actor context live in a row of rowsync_capture_session that the
    # deleting transaction inserts (and deletes again before it ends, so it is never
    # committed); a transaction-local setting, rowsync.session
    # (set_config(..., true), https://www.postgresql.org/docs/current/functions-admin.html),
    # names the row. Any session can set any setting, but no other transaction can see the
    # row: a claim or an actor set by hand is ignored, and the rows go to the worker
    # (docs/security.md). rowsync.claim/lease/context are still set for triggers frozen
    # into older migrations.

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

    def _notify_unclaimed_sql(self, wrote: str) -> str:
        """Return plpgsql that wakes idle workers when rows were written for no session.

        The capture triggers notify, not the event table: an ``INSERT`` statement that
        moves zero rows (an idle worker's refill) must wake nobody.
        """
        return (
            f"IF v_claim = '' AND {wrote} THEN "
            f"PERFORM pg_notify('{self.worker_channel}', ''); END IF;"
        )

    def capture_triggers_sql(self, spec: Any) -> list[tuple[str, list[str], list[str]]]:
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
        out: list[tuple[str, list[str], list[str]]] = []
        if not spec.captured:
            return out
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
        out.append(
            (
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
        )
        if spec.fk_columns:
            name = self.capture_trigger_name("cu", table)
            fks = ", ".join(f'"{c}"' for c, _t, _p in spec.fk_columns)
            changed = " OR ".join(
                f'OLD."{c}" IS DISTINCT FROM NEW."{c}"' for c, _t, _p in spec.fk_columns
            )
            changes = (
                "jsonb_build_object("
                + ", ".join(
                    f'{self.capture_literal(c)}, NEW."{c}"' for c, _t, _p in spec.fk_columns
                )
                + ")"
            )
            body = (
                self._capture_select(spec, "U", "NEW", changes)
                + "; "
                + self._notify_unclaimed_sql("TRUE")
            )
            out.append(
                (
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
            )
        return out

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

    # --- in-process delivery (rowsync.events.rebuild) -------------------------------------
    def image_bytes(self, text: str) -> bytes:
        """Return the bytes of a ``bytea`` value as ``to_jsonb`` spells it (``\\x`` + hex).

        PostgreSQL's text output of ``bytea`` is the hex format
        (https://www.postgresql.org/docs/current/datatype-binary.html); a payload written
        by :func:`rowsync.events.handoff.event_payload` has plain hex.
        """
        return bytes.fromhex(text[2:] if text.startswith("\\x") else text)


class PostgreSQLListener:
    """``LISTEN`` on a channel with psycopg 3's ``Connection.notifies()``.

    Args:
        connection: The Django connection whose settings the listener copies.
        channel: The channel name.
    """

    def __init__(self, connection: BaseDatabaseWrapper, channel: str) -> None:
        params = connection.get_connection_params()
        raw: Any = connection.get_new_connection(params)
        raw.autocommit = True
        raw.execute(f"LISTEN {connection.ops.quote_name(channel)}")
        self._raw = raw

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds for a notification; swallow the ones queued behind.

        Uses ``notifies(timeout=, stop_after=)`` (psycopg 3.2+,
        https://www.psycopg.org/psycopg3/docs/advanced/async.html#asynchronous-notifications).
        """
        got = False
        for _ in self._raw.notifies(timeout=max(timeout, 0.0), stop_after=1):
            got = True
        if got:
            # Many committed transactions may have notified: one pass claims them all.
            for _ in self._raw.notifies(timeout=0.0):
                pass
        return got

    def close(self) -> None:
        """Close the listening connection."""
        self._raw.close()
