"""MariaDB and MySQL (InnoDB).

InnoDB runs FK actions inside the storage engine, so cascaded rows fire no triggers
(MariaDB KB "Trigger Limitations"; MySQL bug #11472), and it silently turns
``ON DELETE SET DEFAULT`` into ``RESTRICT``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rowsync.backends.base import BaseBackend, OnDeleteSpec, OnDeleteSQL


class MySQLBackend(BaseBackend):
    """MariaDB 10.6+ and MySQL 8.0+ with InnoDB."""

    vendor: ClassVar[str] = "mysql"
    fk_actions_fire_triggers: ClassVar[bool] = False
    supports_fk_set_default: ClassVar[bool] = False
    supports_skip_locked: ClassVar[bool] = True
    # InnoDB "exceed max depth of 15" (https://dev.mysql.com/doc/refman/8.0/en/create-table-foreign-keys.html)
    max_cascade_depth: ClassVar[int | None] = 15

    @property
    def is_mariadb(self) -> bool:
        """Return whether the server is MariaDB rather than MySQL."""
        return bool(getattr(self.connection, "mysql_is_mariadb", False))

    # --- worker ---
    # "LIMIT & IN/ALL/ANY/SOME subquery" is refused
    # (https://mariadb.com/kb/en/subquery-limitations/).
    worker_lease_update_subquery: ClassVar[bool] = False

    # ``DELETE ... WHERE id IN (a, b, ...)`` over ids that are not contiguous made InnoDB
    # lock the rows between them, which other workers hold: the four-worker test
    # deadlocked. One primary-key lookup per id locks only that row.
    worker_delete_one_by_one: ClassVar[bool] = True

    # --- schema objects ---
    identifier_quote: ClassVar[str] = "`"

    def installed_objects_sql(self) -> str:
        """Return a query listing ``(name, table)`` of rowsync's triggers and FK constraints."""
        return (
            "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS "
            "WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME LIKE 'rowsync\\_%' "
            "UNION ALL "
            "SELECT CONSTRAINT_NAME, TABLE_NAME FROM information_schema.TABLE_CONSTRAINTS "
            "WHERE CONSTRAINT_SCHEMA = DATABASE() AND CONSTRAINT_TYPE = 'FOREIGN KEY' "
            "AND CONSTRAINT_NAME LIKE 'rowsync\\_%'"
        )

    # --- on_delete ---
    # InnoDB checks foreign keys row by row and has no DEFERRABLE
    # (https://mariadb.com/kb/en/foreign-keys/).
    fk_checks_deferred: ClassVar[bool] = False
    # ERROR 1442: a trigger cannot modify the table its statement uses
    # (https://mariadb.com/kb/en/trigger-limitations/).
    trigger_may_modify_own_table: ClassVar[bool] = False

    #: MySQL's identifier limit, what Django shortens its constraint names to.
    django_max_name_length: ClassVar[int] = 64

    def on_delete_sql(self, spec: OnDeleteSpec) -> OnDeleteSQL | None:
        """Return a replacement FK constraint with the action, or a trigger for SET/SET_DEFAULT.

        Django's constraint is ``NO ACTION``, which InnoDB checks row by row before any
        other constraint's action could run, so it is replaced (and put back on
        uninstall). PROTECT needs nothing: that constraint already refuses. InnoDB drops
        ``ON DELETE SET DEFAULT`` silently, hence the ``BEFORE DELETE`` trigger; such
        triggers do not fire for rows removed by a cascade (MySQL bug #11472).
        """
        q = self.qn
        child, col, name = q(spec.table), q(spec.column), q(spec.name)
        ref = f"{q(spec.ref_table)} ({q(spec.ref_column)})"
        action = {"CASCADE": "CASCADE", "SET_NULL": "SET NULL"}.get(spec.operation)
        if action is not None:
            django_fk = q(spec.django_fk_name)
            install = [
                f"ALTER TABLE {child} DROP FOREIGN KEY IF EXISTS {django_fk}",
                f"ALTER TABLE {child} ADD CONSTRAINT {name} FOREIGN KEY ({col}) "
                f"REFERENCES {ref} ON DELETE {action}",
            ]
            uninstall = [
                f"ALTER TABLE {child} DROP FOREIGN KEY IF EXISTS {name}",
                f"ALTER TABLE {child} ADD CONSTRAINT {django_fk} FOREIGN KEY ({col}) "
                f"REFERENCES {ref}",
            ]
            return ("constraint", install, uninstall)
        if spec.operation not in ("SET", "SET_DEFAULT"):
            return None
        old = f"OLD.{q(spec.ref_column)}"
        guard = self.set_guard_condition(spec, old).replace(
            f"({spec.value_sql}) = {old}", f"({spec.value_sql}) <=> {old}", 1
        )
        install = [
            f"CREATE TRIGGER {name} BEFORE DELETE ON {q(spec.ref_table)} FOR EACH ROW BEGIN\n"
            # foreign_key_checks=0 (loaddata, flush) switches InnoDB's FK actions off;
            # the trigger follows suit.
            f"  IF @@foreign_key_checks AND EXISTS (SELECT 1 FROM {child} WHERE {col} = {old})"
            f" THEN\n"
            f"    IF {guard} THEN\n"
            f"      SIGNAL SQLSTATE '23000' SET MESSAGE_TEXT = '{self.refusal_message(spec)}';\n"
            f"    END IF;\n"
            f"    UPDATE {child} SET {col} = ({spec.value_sql}) WHERE {col} = {old};\n"
            f"  END IF;\n"
            f"END"
        ]
        return ("trigger", install, [f"DROP TRIGGER IF EXISTS {name}"])

    # --- capture ---
    # InnoDB performs FK actions inside the storage engine and fires no triggers for the
    # rows it cascades or nulls (https://mariadb.com/kb/en/trigger-overview/#triggers-and-foreign-keys,
    # MySQL bug #11472). So each captured table records its own direct deletes with an
    # AFTER DELETE trigger, and each table whose deletes cascade into captured tables
    # records those rows BEFORE the cascade, walking the FK graph with joins. Claim, lease
    # and context travel in user variables (visible to triggers of the same session).

    def _capture_image(self, spec: Any, ref: str, set_null: frozenset[str] = frozenset()) -> str:
        parts = []
        for col in spec.columns:
            value = f"{ref}.`{col.column}`"
            if col.column in set_null:
                value = "NULL"
            elif col.kind == "binary":
                value = f"HEX({value})"
            elif col.kind == "json":
                value = f"JSON_EXTRACT({value}, '$')"
            parts.append(f"{self.capture_literal(col.column)}, {value}")
        return "JSON_OBJECT(" + ", ".join(parts) + ")"

    def _capture_values(self, spec: Any, op: str, ref: str, image: str, changes: str) -> str:
        lit = self.capture_literal
        return (
            f"{lit(spec.model_label)}, {lit(spec.table)}, {lit(op)}, "
            f"CAST({ref}.`{spec.pk_column}` AS CHAR), {image}, {changes}, "
            "COALESCE(@rowsync_claim, ''), @rowsync_context, COALESCE(@rowsync_claim, ''), "
            "IF(@rowsync_lease IS NULL, NULL, NOW(6) + INTERVAL @rowsync_lease SECOND)"
        )

    def _capture_below(
        self, edge: Any, alias: str, from_: str, cond: str, depth: int
    ) -> list[str]:
        cols = ", ".join(f"`{c}`" for c in self.capture_event_columns)
        out: list[str] = []
        for sub in edge.below:
            sub_alias = f"t{depth + 1}"
            child = sub.child
            sub_from = (
                f"`{child.table}` {sub_alias} JOIN {from_} "
                f"ON {sub_alias}.`{sub.column}` = {alias}.`{sub.parent_column}`"
            )
            if child.captured:
                if sub.action == "CASCADE":
                    op, image, changes = "D", self._capture_image(child, sub_alias), "NULL"
                else:
                    op = "U"
                    image = self._capture_image(child, sub_alias, frozenset({sub.column}))
                    changes = f"JSON_OBJECT({self.capture_literal(sub.column)}, NULL)"
                values = self._capture_values(child, op, sub_alias, image, changes)
                out.append(
                    f"INSERT INTO `{self.capture_event_table}` ({cols}) "
                    f"SELECT {values} FROM {sub_from} WHERE {cond};"
                )
            if sub.action == "CASCADE" and sub.below:
                out.extend(self._capture_below(sub, sub_alias, sub_from, cond, depth + 1))
        return out

    def capture_triggers_sql(self, spec: Any) -> list[tuple[str, list[str], list[str]]]:
        """Return MariaDB's capture triggers of one table (see the section comment)."""
        out: list[tuple[str, list[str], list[str]]] = []
        table = spec.table
        cols = ", ".join(f"`{c}`" for c in self.capture_event_columns)
        if spec.captured:
            name = self.capture_trigger_name("cd", table)
            values = self._capture_values(
                spec, "D", "OLD", self._capture_image(spec, "OLD"), "NULL"
            )
            out.append(
                (
                    name,
                    [
                        f"CREATE TRIGGER `{name}` AFTER DELETE ON `{table}` FOR EACH ROW "
                        f"INSERT INTO `{self.capture_event_table}` ({cols}) VALUES ({values})"
                    ],
                    [f"DROP TRIGGER IF EXISTS `{name}`"],
                )
            )
        if spec.cascades:
            name = self.capture_trigger_name("cc", table)
            inserts: list[str] = []
            for edge in spec.cascades:
                inserts.extend(
                    self._capture_below_root(edge, f"OLD.`{edge.parent_column}`", table)
                )
            if inserts:
                out.append(
                    (
                        name,
                        [
                            f"CREATE TRIGGER `{name}` BEFORE DELETE ON `{table}` FOR EACH ROW "
                            "BEGIN " + " ".join(inserts) + " END"
                        ],
                        [f"DROP TRIGGER IF EXISTS `{name}`"],
                    )
                )
        return out

    def _capture_below_root(self, edge: Any, parent_value: str, parent_table: str) -> list[str]:
        cols = ", ".join(f"`{c}`" for c in self.capture_event_columns)
        alias = "t1"
        child = edge.child
        from_ = f"`{child.table}` {alias}"
        cond = f"{alias}.`{edge.column}` = {parent_value}"
        if child.table == parent_table and edge.action == "CASCADE":
            # A self-referencing cascade removes the whole subtree (InnoDB stops at 15
            # levels): collect it with a recursive CTE before the delete.
            fk, key = f"`{edge.column}`", f"`{edge.parent_column}`"
            from_ = (
                f"(WITH RECURSIVE rowsync_sub AS (SELECT * FROM `{child.table}` "
                f"WHERE {fk} = {parent_value} UNION ALL SELECT n.* FROM `{child.table}` n "
                f"JOIN rowsync_sub ON n.{fk} = rowsync_sub.{key}) SELECT * FROM rowsync_sub) "
                f"{alias}"
            )
            cond = "TRUE"
        out: list[str] = []
        if child.captured:
            if edge.action == "CASCADE":
                op, image, changes = "D", self._capture_image(child, alias), "NULL"
            else:
                op = "U"
                image = self._capture_image(child, alias, frozenset({edge.column}))
                changes = f"JSON_OBJECT({self.capture_literal(edge.column)}, NULL)"
            values = self._capture_values(child, op, alias, image, changes)
            out.append(
                f"INSERT INTO `{self.capture_event_table}` ({cols}) "
                f"SELECT {values} FROM {from_} WHERE {cond};"
            )
        if edge.action == "CASCADE" and edge.below:
            out.extend(self._capture_below(edge, alias, from_, cond, 1))
        return out

    def capture_session_begin_sql(
        self, claim: str, lease: int | None, context: str | None
    ) -> list[tuple[str, list[Any]]]:
        """Set the session's user variables, then read the event id floor."""
        return [
            (
                "SET @rowsync_claim = %s, @rowsync_lease = %s, @rowsync_context = %s",
                [claim, lease, context],
            ),
            ("SELECT COALESCE(MAX(`id`), 0) FROM `rowsync_deleted_row`", []),
        ]

    def capture_session_end_sql(
        self, previous: tuple[str, int | None, str | None] | None
    ) -> list[tuple[str, list[Any]]]:
        """Restore the enclosing session's variables (user variables outlive transactions)."""
        claim, lease, context = previous or (None, None, None)
        return [
            (
                "SET @rowsync_claim = %s, @rowsync_lease = %s, @rowsync_context = %s",
                [claim, lease, context],
            )
        ]
