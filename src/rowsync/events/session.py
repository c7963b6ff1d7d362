"""What an ORM delete does with capture: open a capture session, run the delete, close it.

Every ORM delete (``Model.delete()``, ``QuerySet.delete()``) runs Django's
``Collector.delete``; rowsync registers :func:`capture_step` as one of its steps
(:func:`rowsync._patch.add_delete_step`). The step opens a *capture session*: a claim
token the capture triggers write into ``claimed_by`` of the events (and
``rowsync_claim`` of the inbox rows) they record, so the rows this delete removed, and
only those, are found again afterwards:

1. Django deletes what it collected and sends ``post_delete`` for it, as always; the
   database cascades and the triggers record every removed row.
2. Events of rows Django already signalled are dropped (no row is signalled twice).
3. The :class:`~rowsync.events.plan.Plan` of the modes in play says what follows:
   phase ``"transaction"`` runs now (:func:`rowsync.events.delivery.run_phase`), phase
   ``"on_commit"`` after the commit (:func:`rowsync.events.delivery.on_commit`), and the
   rest is released to ``manage.py rowsync worker``.

:class:`DeleteCapture` is the state of one session; its methods are the only
transitions of that state (claim, release, move the inbox rows).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.db import connections, models, transaction
from django.db.models.deletion import Collector

from rowsync import _patch, conf
from rowsync.backends import get_backend, is_supported
from rowsync.events import eventtable, inbox, need
from rowsync.events.capture import CaptureSpec, captured_models, is_captured, may_record
from rowsync.events.context import current_context_json
from rowsync.events.plan import Mode, Plan, modes_in_play, plan_for

__all__ = ["DeleteCapture", "capture_session", "capture_step", "setup"]

logger = logging.getLogger("rowsync.events")


@dataclass
class DeleteCapture:
    """The state of one capture session (one ORM delete, or one ``capture_session``).

    The events it recorded have ids in ``(floor, ceiling]`` and ``claimed_by = tag``; its
    inbox rows are selected by :meth:`box_rows`. Only the methods below change ``tag``,
    ``box_tag``, ``ceiling`` and ``box_waiting``.
    """

    using: str
    claim: str
    lease: int | None
    context: str | None
    floor: int = 0
    #: What ``claimed_by`` of the session's events holds now: the claim, or ``""`` until
    #: stamped on engines whose triggers write no claim (``capture_stamps_later``).
    tag: str = ""
    #: Whether the events lack the context until stamped (``capture_stamps_later``).
    context_pending: bool = False
    #: Highest event id once the delete ran (None: not read yet, or rows moved in since).
    ceiling: int | None = None
    #: ``(claim, lease, context)`` of the enclosing session, restored when this one ends.
    previous: tuple[str, int | None, str | None] | None = None
    # {(model label, pk text)} of rows Django's Collector sent post_delete for itself
    signalled: set[tuple[str, str]] = field(default_factory=set)
    #: The inboxes the delete may fill (engines with ``capture_inbox``).
    boxes: tuple[CaptureSpec, ...] = ()
    #: Whether inbox rows carry ``rowsync_seq`` (``inbox_ordered``); else the claim alone
    #: finds the session's rows.
    box_ordered: bool = True
    # {inbox: highest rowsync_seq} before the delete, and after it (None: not read)
    box_floors: dict[str, int] = field(default_factory=dict)
    box_ceilings: dict[str, int] | None = None
    #: What ``rowsync_claim`` of the session's inbox rows holds now.
    box_tag: str = ""
    #: Inbox rows wait for the on-commit phase to deliver or move them.
    box_waiting: bool = False

    # --- reading the state --------------------------------------------------------------

    def event_ceiling(self) -> int:
        """Return (and remember) the highest event id, which bounds the session's events."""
        if self.ceiling is None:
            self.ceiling = eventtable.ceiling(self.using)
        return self.ceiling

    def touched_boxes(self) -> list[CaptureSpec]:
        """Return the inboxes the delete wrote rows into (one query where they are ordered)."""
        if not self.boxes:
            return []
        if not self.box_ordered:
            return list(self.boxes)  # every watched inbox: the claim tells the rows apart
        if self.box_ceilings is None:
            self.box_ceilings = inbox.ceilings(self.using, self.boxes)
        tops = self.box_ceilings
        return [b for b in self.boxes if tops[b.inbox] > self.box_floors[b.inbox]]

    def box_rows(self, box: CaptureSpec) -> tuple[str, list[Any]]:
        """Return the condition (and its parameters) selecting the session's rows of ``box``."""
        backend = get_backend(connections[self.using])
        if not self.box_ordered:
            return backend.requote('"rowsync_claim" = %s'), [self.box_tag]
        assert self.box_ceilings is not None
        return (
            backend.requote('"rowsync_seq" > %s AND "rowsync_seq" <= %s AND "rowsync_claim" = %s'),
            [self.box_floors[box.inbox], self.box_ceilings[box.inbox], self.box_tag],
        )

    # --- transitions --------------------------------------------------------------------

    def stamp_events(self, claim: str, lease: int | None) -> None:
        """Give every event of the session ``claim`` and ``lease`` (and the context)."""
        eventtable.stamp_range(
            self.using,
            self.tag,
            self.floor,
            self.event_ceiling(),
            to=claim,
            lease=lease,
            context=self.context,
        )
        self.tag = claim
        self.context_pending = False

    def events_claimed(self) -> None:
        """Record that every event still here carries the claim (stamped batch by batch)."""
        self.tag = self.claim
        self.context_pending = False

    def stamp_boxes(self, boxes: list[CaptureSpec], claim: str, lease: int | None) -> None:
        """Give the session's rows of ``boxes`` a claim, lease and context."""
        for box in boxes:
            where, params = self.box_rows(box)
            inbox.stamp(self.using, box, where, params, claim, lease, self.context)
        self.box_tag = claim

    def move_boxes(self, boxes: list[CaptureSpec]) -> None:
        """Move the session's rows of ``boxes`` into the event table (above its floor)."""
        for box in boxes:
            where, params = self.box_rows(box)
            inbox.move(self.using, box, where, params)
        if boxes:
            self.ceiling = None  # moved rows have new, higher ids
        self.box_waiting = False


# {alias: [DeleteCapture, ...]} innermost last; sessions nest when a receiver deletes rows.
_stack: dict[str, list[DeleteCapture]] = {}


def _execute(using: str, statements: list[tuple[str, list[Any]]]) -> Any:
    row = None
    with connections[using].cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)
            if cursor.description is not None:
                row = cursor.fetchone()
    return row


def _open(
    using: str,
    lease: int | None,
    context: str | None,
    claim: str | None,
    models_deleted: Iterable[type[models.Model]] | None,
) -> DeleteCapture:
    backend = get_backend(connections[using])
    capture = DeleteCapture(
        using=using,
        claim=f"rowsync:{uuid.uuid4().hex}" if claim is None else claim,
        lease=lease,
        context=context if context is not None else current_context_json(),
    )
    stack = _stack.get(using)
    if stack:
        outer = stack[-1]
        capture.previous = (outer.claim, outer.lease, outer.context)
    if backend.capture_stamps_later:
        capture.context_pending = capture.context is not None
    else:
        capture.tag = capture.claim
    capture.boxes = (
        inbox.present(using, inbox.specs(using))
        if models_deleted is None
        else inbox.reachable(using, models_deleted)
    )
    capture.box_ordered = backend.inbox_ordered
    capture.box_tag = capture.tag
    _read_floors(capture, backend)
    return capture


def _read_floors(capture: DeleteCapture, backend: Any) -> None:
    """Begin the session and read the floors: event id, and each ordered inbox's position.

    One query where beginning sets nothing (SQLite: ``capture_floors_sql``).
    """
    using = capture.using
    ordered = capture.boxes if capture.box_ordered else ()
    merged = backend.capture_floors_sql(ordered) if ordered else None
    if merged is not None:
        row = _execute(using, [(merged, [])])
        capture.floor = int(row[0])
        capture.box_floors = {b.inbox: int(v) for b, v in zip(ordered, row[1:], strict=True)}
        return
    begin = backend.capture_session_begin_sql(capture.claim, capture.lease, capture.context)
    row = _execute(using, begin)
    capture.floor = int(row[-1]) if row else 0
    if ordered:
        capture.box_floors = inbox.ceilings(using, ordered)


@contextmanager
def capture_session(
    using: str,
    *,
    lease: int | None = None,
    context: str | None = None,
    claim: str | None = None,
    models_deleted: Iterable[type[models.Model]] | None = None,
) -> Iterator[DeleteCapture]:
    """Stamp the events recorded inside with a new claim token. Use inside ``atomic``.

    Args:
        using: Database alias.
        lease: Seconds the events stay reserved for this process after commit (None:
            a worker may take them as soon as they are committed).
        context: Actor context (JSON text) stored with each event; defaults to the one
            of :func:`rowsync.events.context.actor_context`.
        claim: The token to stamp (default: a new one; ``""`` leaves the events free
            for the worker).
        models_deleted: The models whose rows the session deletes (their inboxes, and
            those the database cascades into, are watched); None watches every inbox.
    """
    capture = _open(using, lease, context, claim, models_deleted)
    backend = get_backend(connections[using])
    stack = _stack.setdefault(using, [])
    stack.append(capture)
    try:
        yield capture
    finally:
        stack.pop()
        end = backend.capture_session_end_sql(capture.previous)
        if not connections[using].needs_rollback:
            _execute(using, end)
        elif not backend.capture_session_transactional:
            # The transaction is doomed, but what the session set outlives it (MariaDB's
            # user variables): a later raw delete on this connection would be stamped
            # with a dead claim and this delete's actor.
            _reset_outside_transaction(using, end)
        # Otherwise the rollback takes the settings / session row with it.


def _reset_outside_transaction(using: str, statements: list[tuple[str, list[Any]]]) -> None:
    """Run session-reset ``statements`` on a connection whose transaction must roll back.

    Django refuses queries until the ``atomic`` block ends; statements that are no part
    of the transaction (``SET @var``) go straight to the DB-API connection. If even that
    fails, the connection is closed: its session state dies with it.
    """
    connection = connections[using]
    raw = connection.connection
    if raw is None:
        return
    try:
        with raw.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
    except Exception:
        logger.warning("rowsync: cannot reset the capture session; closing the connection")
        connection.close()


def after_delete(capture: DeleteCapture, origin: Any, plan: Plan) -> None:
    """Deliver or hand over what a capture session recorded (see the module docstring).

    Args:
        capture: The closed capture session.
        origin: What ``delete()`` was called on.
        plan: What runs now and later. When nothing is delivered in the transaction,
            the events are not read now: only those of rows Django signalled itself
            are dropped, so ``delete()`` returns quickly.
    """
    from rowsync.events import delivery

    using = capture.using
    boxes = capture.touched_boxes()
    if boxes and capture.signalled:
        inbox.drop_signalled(using, boxes, capture.box_rows, capture.signalled)
    if plan.stream_now:
        capture.move_boxes(delivery.deliver_boxes(capture, boxes, origin, Mode.TRANSACTION))
        if delivery.run_phase(capture, origin, Mode.TRANSACTION):
            # The kept events were stamped batch by batch; read them by the claim now.
            capture.events_claimed()
            delivery.on_commit(capture, origin)
        return
    if not capture.boxes and capture.signalled:
        eventtable.drop_signalled(using, capture.tag, capture.floor, capture.signalled)
    if plan.on_commit:
        _leave_for_on_commit(capture, boxes)
        delivery.on_commit(capture, origin)
    elif capture.context_pending:
        # Worker only: the events and inbox rows get the actor context they lack.
        capture.stamp_events("", None)
        if boxes:
            capture.stamp_boxes(boxes, "", None)


def _leave_for_on_commit(capture: DeleteCapture, boxes: list[CaptureSpec]) -> None:
    """Leave the session's events and inbox rows claimed and leased for the on-commit phase."""
    # Every event of this delete is in place: the on-commit phase reads up to here.
    capture.ceiling = None
    capture.event_ceiling()
    if capture.tag != capture.claim:
        # The lease must be in place when the transaction commits.
        capture.stamp_events(capture.claim, capture.lease)
    if boxes and capture.box_tag != capture.claim and capture.context is not None:
        # Claimed after the commit (delivery.on_commit); the context now, so a worker
        # that takes the rows first has it.
        capture.stamp_boxes(boxes, capture.box_tag, None)
    capture.box_waiting = bool(boxes)


def _signalled_keys(collector: Collector) -> set[tuple[str, str]]:
    """Return ``{(model label, pk text)}`` of the rows ``collector`` sends post_delete for.

    Events carry the label of the table's model: a proxy's rows are recognised by their
    concrete model's label. Models that are not captured have no events to recognise.
    """
    connection = connections[collector.using]
    keys: set[tuple[str, str]] = set()
    for model, instances in collector.data.items():
        concrete = model._meta.concrete_model or model
        if not is_captured(concrete):
            continue
        pk = concrete._meta.pk
        assert pk is not None
        label = concrete._meta.label_lower
        for obj in instances:
            keys.add((label, str(pk.get_db_prep_value(obj.pk, connection))))
    return keys


def _deleted_models(collector: Collector) -> set[type[models.Model]]:
    """Return the models ``collector`` deletes rows of (the database may cascade further)."""
    found = set(collector.data)
    found.update(qs.model for qs in collector.fast_deletes)
    return found


def capture_step(collector: Collector, proceed: Callable[[], Any]) -> Any:
    """Run the rest of ``Collector.delete`` inside a capture session, then deliver.

    The ``Collector.delete`` step of the events feature (order
    :data:`rowsync._patch.ORDER_CAPTURE`).
    """
    using = collector.using
    deleted = _deleted_models(collector)
    if not may_record(deleted) or not is_supported(connections[using]):
        return proceed()  # no capture trigger can fire: Django's queries only
    if not _stack.get(using) and not need.needs_session(frozenset(deleted), using, collector.data):
        # Nobody can need the rows: Django's queries only; the rows go after the commit.
        result = proceed()
        need.leave(using, frozenset(deleted))
        return result
    signalled = _signalled_keys(collector)
    plan = plan_for(modes_in_play())
    with transaction.atomic(using=using, savepoint=False):
        with capture_session(
            using,
            lease=None if plan.worker_only else conf.delivery_lease(),
            claim="" if plan.worker_only else None,
            models_deleted=deleted,
        ) as capture:
            capture.signalled = signalled
            result = proceed()
        after_delete(capture, getattr(collector, "origin", None), plan)
    return result


def setup() -> None:
    """Add the capture session to ``Collector.delete``, when some model is captured."""
    if not captured_models():
        return
    _patch.add_delete_step(
        "events.capture_session", capture_step, order=_patch.ORDER_CAPTURE, feature="events"
    )
