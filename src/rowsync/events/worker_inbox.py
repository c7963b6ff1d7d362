"""How a worker gets the rows the capture triggers left in the inboxes.

The half of :class:`rowsync.events.worker.Worker` that looks into the inboxes before a
batch: one query finds the inboxes holding rows no process holds; then, where the backend
can (``inbox_take``, PostgreSQL), the batch takes those rows itself, deleting them from
their inbox in the transaction that delivers them (one transaction, one commit per
wake-up). Elsewhere, and to retry a batch that failed, the rows are first moved into the
event table in a transaction of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from django.apps import apps
from django.db import connections, transaction
from django.db.models.signals import post_delete

from rowsync.backends import get_backend
from rowsync.events import claim as claims
from rowsync.events import inbox, receivers
from rowsync.events.capture import CaptureSpec
from rowsync.events.claim import ClaimedEvent

#: How many batches' worth of inbox rows a worker moves into the queue at once.
MOVE_BATCHES = 10


class InboxRefill:
    """The inbox half of :class:`rowsync.events.worker.Worker`."""

    using: str
    batch_size: int
    #: What the last look into the inboxes found: "empty" (every free row went), "more"
    #: (it moved or took its limit), "busy" (rows were there, all held by other workers).
    _inboxes: Literal["empty", "more", "busy"]
    #: The inboxes holding free rows, for the next batch to take from (``inbox_take``).
    _taking: tuple[CaptureSpec, ...] = ()
    #: False when the last look found nothing pending in the event table (``inbox_take``):
    #: the next batch skips its take there. Reset by every batch.
    _queue_due: bool = True

    def _refill_queue(self) -> None:
        """Find the inboxes holding free rows; take (next batch) or move their rows.

        One query, before any transaction (whose first statement must be the write on
        SQLite), finds the inboxes holding such rows; when none does (a session moved its
        rows itself), that is all. Where the backend cannot take inbox rows in the
        delivering transaction, many batches' worth are moved into the event table,
        committed on their own: nothing is delivered yet, so nothing is lost if this
        process dies next.
        """
        present = inbox.present(self.using, inbox.specs(self.using))
        if get_backend(connections[self.using]).inbox_take:
            # The same query says whether the event table holds a pending event: a
            # wake-up for inbox rows alone then runs no take there.
            boxes, self._queue_due = inbox.holding_and_queue(self.using, present)
            keyed = tuple(box for box in boxes if _keys_on_event_ids(box))
            self._taking = tuple(box for box in boxes if box not in keyed)
            self._inboxes = "more" if boxes else "empty"
            if keyed:
                # Their receivers key on the event id: it must stay the same across
                # redeliveries, which only the event table gives.
                self._move(keyed, self.batch_size * MOVE_BATCHES)
                self._queue_due = True
            return
        boxes = inbox.holding(self.using, present)
        if not boxes:
            self._inboxes = "empty"
            return
        self._move(boxes, self.batch_size * MOVE_BATCHES)

    def _move(self, boxes: Sequence[CaptureSpec], limit: int, *, exclusive: bool = True) -> int:
        """Move up to ``limit`` free rows of ``boxes`` into the event table; commit.

        ``exclusive``: where the backend has a refill lock, move only while no other
        worker moves (trying would lock, and skip, every row the mover holds); a worker
        that finds one moving takes what is queued and looks again soon ("busy").
        """
        backend = get_backend(connections[self.using])
        begin = backend.worker_refill_sql()
        lock = backend.worker_refill_lock_sql() if exclusive else None
        with transaction.atomic(using=self.using):
            with connections[self.using].cursor() as cursor:
                for sql in begin:
                    cursor.execute(sql)
                if lock is not None:
                    cursor.execute(lock)
                    if not (cursor.fetchone() or (False,))[0]:
                        self._inboxes = "busy"
                        return 0
            moved = inbox.move_free(self.using, limit, boxes)
        self._inboxes = "busy" if not moved else "more" if moved >= limit else "empty"
        return moved

    def _take_from_inboxes(self) -> tuple[tuple[CaptureSpec, ...], list[ClaimedEvent]]:
        """Take up to a batch of free rows from the inboxes found holding some.

        Call inside the delivering transaction. Returns the inboxes and the events.
        """
        boxes, self._taking = self._taking, ()
        if not boxes:
            return boxes, []
        events = claims.take_inboxes(self.using, boxes, self.batch_size)
        full = len(events) >= self.batch_size
        self._inboxes = "busy" if not events else "more" if full else "empty"
        return boxes, events


def _keys_on_event_ids(box: CaptureSpec) -> bool:
    """Return whether a ``post_delete`` receiver of ``box``'s model keys on the event id."""
    try:
        model = apps.get_model(box.model_label)
    except LookupError:
        return False  # delivered (dead-lettered) through the event table either way
    return receivers.needs_event_ids(post_delete, model)
