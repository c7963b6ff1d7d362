"""Capture triggers: the event table they write, their names, and the capture session
that tells them the claim, lease and actor of a delete."""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

from rowsync.backends.base.core import BackendCore, bounded_name

#: Deepest chain of FK actions a pre-cascade walk follows (``CaptureSpec.cascades``):
#: InnoDB, the engine whose FK actions fire no triggers, stops cascading at 15 levels
#: ("exceed max depth of 15",
#: https://dev.mysql.com/doc/refman/8.0/en/create-table-foreign-keys.html).
PRE_CASCADE_DEPTH = 15

#: ``(name, install statements, uninstall statements)`` of one capture trigger.
TriggerSQL = tuple[str, list[str], list[str]]


class CaptureMixin(BackendCore):
    """Flags and SQL of the capture triggers (``rowsync.events``)."""

    #: Do FK ``ON DELETE`` actions fire row triggers on the child table? Where they do
    #: not (InnoDB), a parent table records the rows its deletes cascade into, before
    #: the cascade (:meth:`capture_cascade_triggers_sql`).
    fk_actions_fire_triggers: ClassVar[bool] = True

    #: Event table the capture triggers write into (``rowsync.models.DeletedRow``).
    capture_event_table: ClassVar[str] = "rowsync_deleted_row"
    #: Tables the capture triggers read the session (claim, lease, context) from: the
    #: triggers depend on them. Engines that pass the session otherwise (user variables,
    #: stamping after the delete) name none.
    capture_session_tables: ClassVar[tuple[str, ...]] = ()
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

    def capture_triggers_sql(self, spec: Any) -> list[TriggerSQL]:
        """Return ``(name, install statements, uninstall statements)`` for each trigger.

        The table's own triggers, then, where FK actions fire no triggers, those that
        record the rows its deletes cascade into.

        Args:
            spec: The table's ``rowsync.events.capture.CaptureSpec``.
        """
        out = self.capture_own_triggers_sql(spec)
        if not self.fk_actions_fire_triggers and spec.cascades:
            out.extend(self.capture_cascade_triggers_sql(spec))
        return out

    def capture_own_triggers_sql(self, spec: Any) -> list[TriggerSQL]:
        """Return the triggers recording the rows deleted (or FK-changed) in ``spec.table``."""
        raise NotImplementedError

    def capture_cascade_triggers_sql(self, spec: Any) -> list[TriggerSQL]:
        """Return the triggers on ``spec.table`` recording the rows its deletes cascade into.

        Only asked where :attr:`fk_actions_fire_triggers` is False.
        """
        return []

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
