"""SQL of in-process delivery: what a capture session runs on the event table and the
inboxes once the delete ran (:mod:`rowsync.events.eventtable`, :mod:`rowsync.events.inbox`),
and how row images spell what JSON cannot (:mod:`rowsync.events.rebuild`).

Identifiers are written with double quotes and requoted; every ``%s`` is a parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rowsync.backends.base.inbox import InboxMixin


class DeliveryMixin(InboxMixin):
    """Statements and row-image facts of in-process delivery."""

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

    def events_drop_unclaimed_sql(self, count: int) -> str:
        """Return the ``DELETE`` of pending events nobody claimed, of ``count`` model labels.

        Parameters: the labels. Events a phase handed on (``delivered_through``) stay.
        """
        marks = ", ".join(["%s"] * count)
        return self.requote(
            'DELETE FROM "rowsync_deleted_row" WHERE "status" = \'P\' AND "claimed_by" = \'\' '
            f'AND "delivered_through" = \'\' AND "model_label" IN ({marks})'
        )

    def inbox_unclaimed_sql(self) -> str:
        """Return the condition selecting inbox rows no session claimed (no parameters)."""
        return self.requote("\"rowsync_claim\" = ''")

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

    def capture_floors_sql(self, specs: Sequence[Any]) -> str | None:
        """Return one ``SELECT`` of the event id floor, then each inbox's ``rowsync_seq``.

        For engines whose capture session sets nothing before the delete (its begin
        statements only read the floor): the session then opens with this one query.
        None where the session must be begun first (``capture_session_begin_sql``).
        """
        return None

    def inbox_count_sql(self, specs: Sequence[Any]) -> str:
        """Return one row: how many rows the inboxes hold together."""
        q = self.quote_name
        return "SELECT " + " + ".join(f"(SELECT COUNT(*) FROM {q(spec.inbox)})" for spec in specs)

    def inbox_counts_sql(self, specs: Sequence[Any]) -> str:
        """Return one row: how many rows each inbox holds, in the order of ``specs``."""
        q = self.quote_name
        return "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {q(spec.inbox)})" for spec in specs)

    def rows_lock_sql(self, table: str, where: str) -> str | None:
        """Return a ``SELECT`` locking the rows ``where`` of ``table`` (None: no row locks)."""
        if not self.connection.features.has_select_for_update:
            return None
        lock = self.connection.ops.for_update_sql()
        return self.requote(f'SELECT 1 FROM "{table}" WHERE {where} {lock}')
