"""MariaDB and MySQL (InnoDB).

InnoDB runs FK actions inside the storage engine, so cascaded rows fire no triggers
(MariaDB KB "Trigger Limitations"; MySQL bug #11472), and it silently turns
``ON DELETE SET DEFAULT`` into ``RESTRICT``.
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

from rowsync.backends.base import BaseBackend, OnDeleteSpec, OnDeleteSQL, bounded_name

#: One row source of the pre-cascade walk: (child spec, op, FK column nulled or "",
#: alias of the child's rows, FROM clause, WHERE condition).
_Source = tuple[Any, str, str, str, str, str]


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

    def _capture_image(
        self,
        spec: Any,
        ref: str,
        set_null: frozenset[str] = frozenset(),
        values: dict[str, str] | None = None,
    ) -> str:
        parts = []
        for col in spec.columns:
            value = f"{ref}.`{col.column}`"
            if col.column in set_null:
                parts.append(f"{self.capture_literal(col.column)}, NULL")
                continue
            if values and col.column in values:
                value = values[col.column]
            parts.append(f"{self.capture_literal(col.column)}, {self._capture_json(col, value)}")
        return "JSON_OBJECT(" + ", ".join(parts) + ")"

    def _capture_json(self, col: Any, value: str) -> str:
        if col.kind == "binary":
            return f"HEX({value})"
        if col.kind == "json":
            return f"JSON_EXTRACT({value}, '$')"
        return value

    def _capture_values(self, spec: Any, op: str, ref: str, image: str, changes: str) -> str:
        lit = self.capture_literal
        return (
            f"{lit(spec.model_label)}, {lit(spec.table)}, {lit(op)}, "
            f"CAST({ref}.`{spec.pk_column}` AS CHAR), {image}, {changes}, "
            "COALESCE(@rowsync_claim, ''), @rowsync_context, COALESCE(@rowsync_claim, ''), "
            "IF(@rowsync_lease IS NULL, NULL, NOW(6) + INTERVAL @rowsync_lease SECOND)"
        )

    @staticmethod
    def _self_edge(edge: Any) -> Any:
        """Return the self-referencing cascade of ``edge``'s child table, if it has one."""
        if edge.action != "CASCADE":
            return None
        return next(
            (
                sub
                for sub in edge.below
                if sub.child.table == edge.child.table and sub.action == "CASCADE"
            ),
            None,
        )

    def _subtree(self, edge: Any, self_edge: Any, alias: str, from_: str, cond: str) -> str:
        """Return the rows ``from_``/``cond`` select plus their whole self-referencing subtree.

        InnoDB deletes a cascaded row's children through the self-reference at every
        depth (up to 15 levels): a recursive CTE collects them before the delete, and the
        edges below the table join on all of them.
        """
        return self._recursive(
            f"rowsync_sub_{alias}",
            f"SELECT {alias}.* FROM {from_} WHERE {cond}",
            edge.child.table,
            self_edge,
            alias,
        )

    @staticmethod
    def _recursive(cte: str, anchor: str, table: str, self_edge: Any, alias: str) -> str:
        """Return a derived table ``alias``: the ``anchor`` rows and, through the
        self-referencing FK ``self_edge`` of ``table``, all rows below them."""
        fk, key = f"`{self_edge.column}`", f"`{self_edge.parent_column}`"
        return (
            f"(WITH RECURSIVE {cte} AS ({anchor} "
            f"UNION ALL SELECT n.* FROM `{table}` n JOIN {cte} ON n.{fk} = {cte}.{key}) "
            f"SELECT * FROM {cte}) {alias}"
        )

    def _capture_below(
        self, edge: Any, alias: str, from_: str, cond: str, depth: int
    ) -> list[_Source]:
        out: list[_Source] = []
        closed = self._self_edge(edge) is not None and depth > 0
        for sub in edge.below:
            if closed and sub.child.table == edge.child.table and sub.action == "CASCADE":
                continue  # the subtree is part of the parent's rows already
            sub_alias = f"t{depth + 1}"
            child = sub.child
            sub_from = (
                f"`{child.table}` {sub_alias} JOIN {from_} "
                f"ON {sub_alias}.`{sub.column}` = {alias}.`{sub.parent_column}`"
            )
            sub_cond = cond
            self_edge = self._self_edge(sub)
            if self_edge is not None and child.table != edge.child.table:
                sub_from = self._subtree(sub, self_edge, sub_alias, sub_from, cond)
                sub_cond = "TRUE"
            out.extend(self._capture_source(sub, sub_alias, sub_from, sub_cond))
            if sub.action == "CASCADE" and sub.below:
                out.extend(self._capture_below(sub, sub_alias, sub_from, sub_cond, depth + 1))
        return out

    @staticmethod
    def _capture_source(edge: Any, alias: str, from_: str, cond: str) -> list[_Source]:
        # SET DEFAULT is rowsync's trigger on the parent, whose changes the captured
        # table's own "sd" triggers record with the new value (see capture_triggers_sql);
        # below a cascade, InnoDB refuses the delete (no trigger runs for cascaded rows).
        if not edge.child.captured or edge.action == "SET DEFAULT":
            return []
        column = "" if edge.action == "CASCADE" else edge.column
        op = "D" if edge.action == "CASCADE" else "U"
        return [(edge.child, op, column, alias, from_, cond)]

    def _capture_inserts(self, sources: list[_Source]) -> list[str]:
        """Return one INSERT per (table, op, column) of the walk.

        A row reachable by several cascade paths (a diamond in the FK graph) is deleted
        once and must be recorded once: the paths of one table are merged with UNION. A
        row both nulled and deleted (SET NULL on one path, CASCADE on another) is
        deleted: only its delete is recorded.
        """
        cols = ", ".join(f"`{c}`" for c in self.capture_event_columns)
        groups: dict[tuple[str, str, str], list[_Source]] = {}
        for source in sources:
            groups.setdefault((source[0].table, source[1], source[2]), []).append(source)

        def keys(group: list[_Source]) -> str:
            return " UNION ".join(
                f"SELECT {alias}.`{child.pk_column}` AS rowsync_pk FROM {from_} WHERE {cond}"
                for child, _op, _col, alias, from_, cond in group
            )

        out: list[str] = []
        for (table, op, column), group in groups.items():
            child = group[0][0]
            deleted = groups.get((table, "D", "")) if op == "U" else None
            if len(group) == 1 and deleted is None:
                _child, _op, _col, alias, from_, cond = group[0]
            else:
                alias, cond = "rowsync_r", "TRUE"
                from_ = (
                    f"`{table}` {alias} JOIN ({keys(group)}) rowsync_k "
                    f"ON {alias}.`{child.pk_column}` = rowsync_k.rowsync_pk"
                )
                if deleted is not None:
                    cond = f"{alias}.`{child.pk_column}` NOT IN ({keys(deleted)})"
            if op == "D":
                image, changes = self._capture_image(child, alias), "NULL"
            else:
                image = self._capture_image(child, alias, frozenset({column}))
                changes = f"JSON_OBJECT({self.capture_literal(column)}, NULL)"
            values = self._capture_values(child, op, alias, image, changes)
            out.append(
                f"INSERT INTO `{self.capture_event_table}` ({cols}) "
                f"SELECT {values} FROM {from_} WHERE {cond};"
            )
        return out

    def _set_trigger_name(self, table: str, column: str) -> str:
        digest = hashlib.sha1(f"sd:{table}:{column}".encode()).hexdigest()[:5]
        return bounded_name("rowsync_sd_", table, digest, 45)

    def _set_capture_triggers(self, spec: Any) -> list[tuple[str, list[str], list[str]]]:
        """Return the triggers that record the rows rowsync's SET/SET_DEFAULT changes.

        rowsync's on_delete runs ``UPDATE child SET fk = value`` in a ``BEFORE DELETE``
        trigger of the parent (InnoDB has no ``SET DEFAULT``). Once it ran, nothing tells
        which rows pointed at the deleted row, so this trigger runs right before it
        (``PRECEDES``) and records those rows with the value the update is about to
        write. The table's own objects are installed in name order, ``rowsync_od_*``
        before ``rowsync_sd_*``, so the on_delete trigger exists when this one is
        created; re-creating the on_delete trigger later puts it last, still after.
        """
        from rowsync.ondelete.compile import value_sql

        cols = ", ".join(f"`{c}`" for c in self.capture_event_columns)
        out: list[tuple[str, list[str], list[str]]] = []
        for set_col in spec.set_columns:
            value = value_sql(set_col.value, self)
            if value is None or set_col.parent_table == spec.table:
                continue  # refused by rowsync.E033 / rowsync.E037: no on_delete trigger
            image_col = next(c for c in spec.columns if c.column == set_col.column)
            new = self._capture_json(image_col, f"({value})")
            image = self._capture_image(spec, "t1", values={set_col.column: f"({value})"})
            changes = f"JSON_OBJECT({self.capture_literal(set_col.column)}, {new})"
            values = self._capture_values(spec, "U", "t1", image, changes)
            name = self._set_trigger_name(spec.table, set_col.column)
            out.append(
                (
                    name,
                    [
                        f"CREATE TRIGGER `{name}` BEFORE DELETE ON `{set_col.parent_table}` "
                        f"FOR EACH ROW PRECEDES `{set_col.action_object}` "
                        # Same condition as the on_delete trigger's.
                        f"IF @@foreign_key_checks THEN "
                        f"INSERT INTO `{self.capture_event_table}` ({cols}) "
                        f"SELECT {values} FROM `{spec.table}` t1 "
                        f"WHERE t1.`{set_col.column}` = OLD.`{set_col.parent_column}`; END IF"
                    ],
                    [f"DROP TRIGGER IF EXISTS `{name}`"],
                )
            )
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
            out.extend(self._set_capture_triggers(spec))
        if spec.cascades:
            name = self.capture_trigger_name("cc", table)
            sources: list[_Source] = []
            root_self = next(
                (e for e in spec.cascades if e.child.table == table and e.action == "CASCADE"),
                None,
            )
            for edge in spec.cascades:
                sources.extend(
                    self._capture_below_root(edge, f"OLD.`{edge.parent_column}`", table, root_self)
                )
            inserts = self._capture_inserts(sources)
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

    def _capture_below_root(
        self, edge: Any, parent_value: str, parent_table: str, root_self: Any = None
    ) -> list[_Source]:
        alias = "t1"
        child = edge.child
        from_ = f"`{child.table}` {alias}"
        cond = f"{alias}.`{edge.column}` = {parent_value}"
        if root_self is not None and child.table != parent_table:
            # The deleted row's self-referencing subtree goes too, with the rows of this
            # table under every row of it.
            anchor = (
                f"SELECT * FROM `{parent_table}` "
                f"WHERE `{root_self.column}` = OLD.`{root_self.parent_column}`"
            )
            rows = self._recursive("rowsync_rs", anchor, parent_table, root_self, "rowsync_rs")
            subtree = f"SELECT rowsync_rs.`{edge.parent_column}` FROM {rows}"
            cond = f"({cond} OR {alias}.`{edge.column}` IN ({subtree}))"
        if child.table == parent_table and edge.action == "CASCADE":
            # A self-referencing cascade removes the whole subtree (InnoDB stops at 15
            # levels): collect it with a recursive CTE before the delete.
            anchor = f"SELECT * FROM `{child.table}` WHERE `{edge.column}` = {parent_value}"
            from_ = self._recursive("rowsync_sub", anchor, child.table, edge, alias)
            cond = "TRUE"
        else:
            self_edge = self._self_edge(edge)
            if self_edge is not None:
                from_ = self._subtree(edge, self_edge, alias, from_, cond)
                cond = "TRUE"
        out = self._capture_source(edge, alias, from_, cond)
        if edge.action == "CASCADE" and edge.below:
            out.extend(self._capture_below(edge, alias, from_, cond, 1))
        return out

    #: User variables belong to the connection, not the transaction
    #: (https://mariadb.com/kb/en/user-defined-variables/).
    capture_session_transactional: ClassVar[bool] = False

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
