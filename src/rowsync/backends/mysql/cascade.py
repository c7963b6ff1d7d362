"""MariaDB/MySQL: the pre-cascade capture trigger of a parent table.

InnoDB fires no trigger for the rows its FK actions delete or null, so a ``BEFORE
DELETE`` trigger on the parent walks the FK graph with joins and records those rows
before the cascade runs (``CaptureSpec.cascades``).
"""

from __future__ import annotations

from typing import Any

from rowsync.backends.base import TriggerSQL
from rowsync.backends.mysql.capture import MySQLCapture

#: One row source of the pre-cascade walk: (child spec, op, FK column nulled or "",
#: alias of the child's rows, FROM clause, WHERE condition).
_Source = tuple[Any, str, str, str, str, str]


class MySQLCascadeCapture(MySQLCapture):
    """The pre-cascade trigger (asked because ``fk_actions_fire_triggers`` is False)."""

    def capture_cascade_triggers_sql(self, spec: Any) -> list[TriggerSQL]:
        """Return the ``BEFORE DELETE`` trigger recording the rows a delete cascades into."""
        table = spec.table
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
        if not inserts:
            return []
        return [
            (
                name,
                [
                    f"CREATE TRIGGER `{name}` BEFORE DELETE ON `{table}` FOR EACH ROW "
                    "BEGIN " + " ".join(inserts) + " END"
                ],
                [f"DROP TRIGGER IF EXISTS `{name}`"],
            )
        ]

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
