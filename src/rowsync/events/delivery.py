"""Run one in-process delivery phase over a capture session's rows.

:mod:`rowsync.events.session` decides *when* (the :class:`~rowsync.events.plan.Plan`);
this module runs a phase, ``"transaction"`` now or ``"on_commit"`` after the commit:

1. inboxes whose receivers all run in this phase are delivered straight from the inbox
   (:func:`rowsync.events.direct.deliver_boxes`), the others are moved into the event
   table;
2. the session's events are streamed in batches (:func:`run_phase`); each event's
   receivers are split by :func:`rowsync.events.receivers.split`: those of this phase are
   called now (:func:`rowsync.events.dispatch.deliver_one`); the event is then deleted
   when no later phase needs it, kept (claimed, leased) for the on-commit phase, or
   released to the worker. An event that goes on after receivers ran here is marked
   ``delivered_through = phase``, so later phases call only the others.

``capture_session``, ``setup`` and ``delivery_mode_for`` are re-exported from where they
now live (:mod:`rowsync.events.session`, :mod:`rowsync.events.plan`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connections, models, transaction

from rowsync import conf
from rowsync.events import eventtable, inbox, receivers
from rowsync.events.batch import collecting
from rowsync.events.direct import deliver_boxes
from rowsync.events.dispatch import EventDecodeError, EventRecord, deliver_one
from rowsync.events.plan import Mode, model_mode
from rowsync.events.rebuild import UPDATE, fast_rebuild_ok, load_json, resolve_model
from rowsync.events.send import evict, signal_for
from rowsync.events.session import DeleteCapture, capture_session, setup

__all__ = [
    "capture_session",
    "deliver_boxes",
    "delivery_mode_for",
    "on_commit",
    "run_phase",
    "setup",
]

logger = logging.getLogger("rowsync.events")


def delivery_mode_for(model: type[models.Model]) -> Mode:
    """Return the delivery mode of ``model``'s events (``RowsyncMeta.delivery`` wins).

    Receivers may have modes of their own (:func:`rowsync.events.receiver_delivery`).
    """
    return model_mode(model)


@dataclass
class _Sorted:
    """Where the events of one batch go after this phase."""

    done: list[int] = field(default_factory=list)  # delete
    release: list[int] = field(default_factory=list)  # to the worker
    kept: list[int] = field(default_factory=list)  # for the on-commit phase
    advanced: list[int] = field(default_factory=list)  # receivers ran in this phase


def _batches(capture: DeleteCapture) -> Iterator[tuple[int, int, list[EventRecord]]]:
    """Yield ``(after, upto, events)`` over the session's events, in id order."""
    using, ceiling = capture.using, capture.event_ceiling()
    size = conf.delivery_batch_size()
    after, gap = capture.floor, True
    while after < ceiling:
        if gap:
            # The floor is MAX(id) of the table before the delete, far below the first
            # event when the table was empty; events of other transactions interleave.
            first = eventtable.next_id(using, after)
            if first is None:
                return
            after = max(after, first - 1)
            if after >= ceiling:
                return
        upto = min(after + size, ceiling)
        batch = eventtable.read_batch(using, capture.tag, after, upto)
        if capture.context_pending:
            context = capture.context
            batch = [r if r.context is not None else r._replace(context=context) for r in batch]
        gap = not batch
        yield after, upto, batch
        after = upto


def _sort(capture: DeleteCapture, events: list[EventRecord], origin: Any, phase: Mode) -> _Sorted:
    """Call this phase's receivers of ``events``; return where each event goes next."""
    with collecting():
        return _sort_batch(capture, events, origin, phase)


def _sort_batch(
    capture: DeleteCapture, events: list[EventRecord], origin: Any, phase: Mode
) -> _Sorted:
    out = _Sorted()
    # Receivers may connect or disconnect in a receiver: split once per batch.
    # {(model label, op, delivered_through): (model, split)}
    splits: dict[tuple[str, str, str], tuple[type[models.Model], receivers.Split]] = {}
    # {model: fast_rebuild_ok}
    fast: dict[type[models.Model], bool] = {}
    for record in events:
        if (record.model_label, record.pk_text) in capture.signalled:
            out.done.append(record.id)
            continue
        key = (record.model_label, record.op, record.delivered_through)
        try:
            entry = splits.get(key)
            if entry is None:
                model = resolve_model(record)
                part = receivers.split(
                    signal_for(record.op),
                    model,
                    model_mode(model),
                    record.delivered_through,
                    phase,
                )
                entry = splits[key] = (model, part)
            model, part = entry
            if part.calls:
                quick = fast.get(model)
                if quick is None:
                    quick = fast[model] = fast_rebuild_ok(model)
                only = None if part.everyone and not record.delivered_through else part.now
                deliver_one(record, capture.using, origin, fast=quick, only=only)
            elif part.next_mode is None:
                _evict_only(record, model, capture.using)
        except EventDecodeError:
            out.release.append(record.id)  # the worker dead-letters it with the reason
            continue
        if part.next_mode is None:
            out.done.append(record.id)
            continue
        if part.calls:
            out.advanced.append(record.id)
        (out.release if part.next_mode is Mode.WORKER else out.kept).append(record.id)
    return out


def _evict_only(record: EventRecord, model: type[models.Model], using: str) -> None:
    """Update the identity map for an event nobody listens to (no instance is built)."""
    if record.op == UPDATE:
        # An updated row needs its new values: build it (cheap next to a receiver).
        deliver_one(record, using, None, robust=True)
        return
    row = load_json(record.row)
    pk_field = model._meta.pk
    if isinstance(row, dict) and pk_field is not None:
        pk = row.get(pk_field.column)
        if pk is not None:
            evict(model, pk_field.to_python(pk), using)


def _settle(capture: DeleteCapture, out: _Sorted, phase: Mode, after: int, upto: int) -> None:
    """Delete, keep or release the events of one batch as ``out`` says."""
    using = capture.using
    eventtable.mark_delivered_through(using, out.advanced, phase)
    if out.release:
        eventtable.stamp_ids(using, out.release, claim="", lease=None, context=capture.context)
    if out.kept or (out.release and not capture.tag):
        # Kept events carry the claim, and released ones the empty tag unstamped
        # events have: delete exactly the delivered ones.
        eventtable.delete_ids(using, out.done)
        if out.kept and capture.tag != capture.claim:
            eventtable.stamp_ids(
                using, out.kept, claim=capture.claim, lease=capture.lease, context=capture.context
            )
    else:
        # Released events no longer carry the claim: the range takes the rest.
        eventtable.delete_range(using, capture.tag, after, upto)


def run_phase(capture: DeleteCapture, origin: Any, phase: Mode) -> bool:
    """Run delivery phase ``phase`` over the session's events; return whether any stayed.

    See the module docstring. Already-signalled events are deleted.
    """
    kept = False
    for after, upto, batch in _batches(capture):
        out = _sort(capture, batch, origin, phase)
        if batch:
            _settle(capture, out, phase, after, upto)
        kept = kept or bool(out.kept)
    return kept


def _hold(capture: DeleteCapture, boxes: list[Any]) -> None:
    """Lock the session's events and inbox rows before any on-commit receiver runs.

    Their lease (``ROWSYNC_DELIVERY_LEASE``) may run out while the receivers run; a worker
    then finds them due, but it claims and moves with ``SKIP LOCKED`` (or waits, with
    leases), so they stay this delivery's and are delivered once. Rows a worker took
    before the lock are gone: the worker delivered them, once. SQLite has no row locks:
    there the stamp that claims the inbox rows takes the database's write lock.
    """
    if not connections[capture.using].features.has_select_for_update:
        return  # SQLite: a read first would make a concurrent writer fail at once
    for box in boxes:
        where, params = capture.box_rows(box)
        inbox.lock(capture.using, box, where, params)
    eventtable.lock_range(capture.using, capture.tag, capture.floor, capture.event_ceiling())


def _drain(capture: DeleteCapture, origin: Any) -> None:
    """Deliver an on-commit session's rows after the commit, in a transaction of its own."""
    using = capture.using
    try:
        with transaction.atomic(using=using):
            boxes = capture.touched_boxes() if capture.box_waiting else []
            _hold(capture, boxes)
            if capture.box_waiting:
                if capture.box_tag != capture.claim:
                    # Triggers that write no claim: claim the rows first. The UPDATE takes
                    # SQLite's write lock before any receiver runs; rows a worker moved
                    # since the commit are gone (delivered once, by the worker).
                    capture.stamp_boxes(boxes, capture.claim, capture.lease)
                capture.move_boxes(deliver_boxes(capture, boxes, origin, Mode.ON_COMMIT))
            run_phase(capture, origin, Mode.ON_COMMIT)
    except Exception:
        # The events stay leased; a worker delivers them once the lease ends.
        logger.exception(
            "rowsync: on-commit delivery failed; a worker will retry",
            extra={"database": using, "claim": capture.claim, "phase": "on_commit"},
        )


def on_commit(capture: DeleteCapture, origin: Any) -> None:
    """Run the on-commit phase of ``capture`` after the transaction commits (if it does)."""
    transaction.on_commit(lambda: _drain(capture, origin), using=capture.using)
