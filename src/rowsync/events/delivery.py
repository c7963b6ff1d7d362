"""In-process delivery: modes "transaction" and "on_commit" around ORM deletes.

Every ORM delete (``Model.delete()``, ``QuerySet.delete()``) runs Django's
``Collector.delete``. rowsync wraps it (see :func:`setup`) in a *capture session*: a
token the capture triggers write into ``claimed_by`` of the events they record, so the
rows this delete removed, and only those, are found again afterwards:

1. Django deletes what it collected and sends ``post_delete`` for it, as always; the
   database cascades (``DB_CASCADE``, rowsync's database on_delete) and the triggers
   record every removed row, the ones Django signalled included.
2. Events of rows Django already signalled are dropped (no row is signalled twice).
3. Mode "transaction": the other events are delivered right away, in the same
   transaction, streamed in batches (``post_delete(sender, instance, using, origin)``),
   and deleted. Mode "on_commit": the events stay, leased to this process, and a
   ``transaction.on_commit`` callback delivers them after the commit (nothing when the
   transaction or the savepoint rolls back). Mode "worker": the events are released
   to ``manage.py rowsync worker``.
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
from django.db.models.signals import post_delete

from rowsync import _patch, conf
from rowsync.backends import get_backend, is_supported
from rowsync.events import boxes as box_ops
from rowsync.events import inbox, receivers
from rowsync.events import signals as rowsync_signals
from rowsync.events.capture import CaptureSpec, captured_models, is_captured, may_record
from rowsync.events.context import current_context_json
from rowsync.events.dispatch import (
    UPDATE,
    EventDecodeError,
    EventRecord,
    _model_mode,
    deliver_one,
    fast_rebuild_ok,
    resolve_model,
)

__all__ = ["capture_session", "delivery_mode_for", "setup"]

logger = logging.getLogger("rowsync.events")

MODES = ("transaction", "on_commit", "worker")

_EVENT_COLUMNS = (
    '"id", "model_label", "table_name", "op", "row", "changes", "context", "pk_text", '
    '"delivered_through"'
)


def delivery_mode_for(model: type[models.Model]) -> str:
    """Return the delivery mode of ``model``'s events (``RowsyncMeta.delivery`` wins).

    Receivers may have modes of their own (:func:`rowsync.events.receiver_delivery`).
    """
    return _model_mode(model)


@dataclass
class Session:
    """One capture session: the token, the event id floor and what Django signalled."""

    using: str
    claim: str
    lease: int | None
    context: str | None
    floor: int = 0
    #: What ``claimed_by`` of this session's events holds right now: the claim, or
    #: ``""`` until stamped on engines whose triggers write no claim
    #: (``capture_stamps_later``).
    tag: str = ""
    #: Whether the events lack the context until stamped (``capture_stamps_later``).
    unstamped_context: bool = False
    #: Highest event id when the delete finished (None: not known yet).
    ceiling: int | None = None
    previous: tuple[str, int | None, str | None] | None = None
    # {(model label, pk text)} of rows Django's Collector sent post_delete for itself
    signalled: set[tuple[str, str]] = field(default_factory=set)
    #: Inboxes of the captured tables (engines with ``capture_inbox``).
    boxes: tuple[CaptureSpec, ...] = ()
    #: ``{inbox: highest rowsync_seq}`` before the delete, and after it (None: not read).
    box_floors: dict[str, int] = field(default_factory=dict)
    box_ceilings: dict[str, int] | None = None
    #: What ``rowsync_claim`` of this session's inbox rows holds right now.
    box_tag: str = ""
    #: Inbox rows wait for the on-commit delivery to move them.
    box_waiting: bool = False
    #: Whether the inboxes have sequence numbers (``inbox_ordered``); else the claim
    #: alone finds the session's rows.
    box_ordered: bool = True


# {alias: [Session, ...]} innermost last; sessions nest when a receiver deletes rows.
_stack: dict[str, list[Session]] = {}


def _execute(using: str, statements: list[tuple[str, list[Any]]]) -> Any:
    row = None
    with connections[using].cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)
            if cursor.description is not None:
                row = cursor.fetchone()
    return row


@contextmanager
def capture_session(
    using: str,
    *,
    lease: int | None = None,
    context: str | None = None,
    claim: str | None = None,
    models_deleted: Iterable[type[models.Model]] | None = None,
) -> Iterator[Session]:
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
    backend = get_backend(connections[using])
    stack = _stack.setdefault(using, [])
    session = Session(
        using=using,
        claim=f"rowsync:{uuid.uuid4().hex}" if claim is None else claim,
        lease=lease,
        context=context if context is not None else current_context_json(),
    )
    if stack:
        outer = stack[-1]
        session.previous = (outer.claim, outer.lease, outer.context)
    if backend.capture_stamps_later:
        session.unstamped_context = session.context is not None
    else:
        session.tag = session.claim
    row = _execute(using, backend.capture_session_begin_sql(session.claim, lease, session.context))
    session.floor = int(row[-1]) if row else 0
    session.boxes = (
        inbox.present(using, inbox.specs(using))
        if models_deleted is None
        else inbox.reachable(using, models_deleted)
    )
    if session.boxes:
        session.box_ordered = backend.inbox_ordered
        if session.box_ordered:
            session.box_floors = inbox.ceilings(using, session.boxes)
        session.box_tag = session.tag
    stack.append(session)
    try:
        yield session
    finally:
        stack.pop()
        end = backend.capture_session_end_sql(session.previous)
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


def _q(using: str, sql: str) -> str:
    """Return ``sql`` with its double-quoted names quoted for ``using``'s engine."""
    return get_backend(connections[using]).requote(sql)


def _read_batch(using: str, session: Session, after: int, upto: int) -> list[EventRecord]:
    """Read the session's events with ``after < id <= upto``, in id order.

    A range on the primary key, not ``ORDER BY id LIMIT n``: PostgreSQL's planner has no
    statistics for a claim token written a moment ago and chose a full scan and a sort
    for every batch (quadratic in the number of events).
    """
    with connections[using].cursor() as cursor:
        cursor.execute(
            _q(
                using,
                f'SELECT {_EVENT_COLUMNS} FROM "rowsync_deleted_row" '
                'WHERE "id" > %s AND "id" <= %s AND "claimed_by" = %s ORDER BY "id"',
            ),
            [after, upto, session.tag],
        )
        records = [EventRecord(*r) for r in cursor.fetchall()]
    if session.unstamped_context:
        records = [
            r if r.context is not None else r._replace(context=session.context) for r in records
        ]
    return records


def _ceiling(using: str) -> int:
    with connections[using].cursor() as cursor:
        cursor.execute(_q(using, 'SELECT MAX("id") FROM "rowsync_deleted_row"'))
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _next_id(using: str, after: int) -> int | None:
    """Return the lowest event id above ``after`` (skips gaps between id ranges)."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            _q(using, 'SELECT MIN("id") FROM "rowsync_deleted_row" WHERE "id" > %s'), [after]
        )
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else None


def _delete_range(using: str, session: Session, after: int, upto: int) -> None:
    """Delete the session's (still claimed) events with ``after < id <= upto``."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            _q(
                using,
                'DELETE FROM "rowsync_deleted_row" '
                'WHERE "id" > %s AND "id" <= %s AND "claimed_by" = %s',
            ),
            [after, upto, session.tag],
        )


def _delete_ids(using: str, ids: list[int]) -> None:
    if not ids:
        return
    with connections[using].cursor() as cursor:
        marks = ", ".join(["%s"] * len(ids))
        cursor.execute(
            _q(using, f'DELETE FROM "rowsync_deleted_row" WHERE "id" IN ({marks})'), ids
        )


def _release_ids(session: Session, ids: list[int]) -> None:
    """Hand events to the worker: clear the claim and the lease (stamp the context)."""
    if not ids:
        return
    marks = ", ".join(["%s"] * len(ids))
    _stamp(session, f'"id" IN ({marks})', ids, claim="", lease=None)


def _stamp(
    session: Session, where: str, params: list[Any], *, claim: str, lease: int | None
) -> None:
    """Set claim and lease of the events ``where`` selects, and the context if missing."""
    using = session.using
    backend = get_backend(connections[using])
    if backend.capture_stamps_later:
        sql, head = backend.capture_stamp_sql(where, claim, lease, session.context)
    else:
        sql = 'UPDATE "rowsync_deleted_row" SET "claimed_by" = %s, "claimed_until" = NULL '
        head = [claim]
        if lease is not None:
            raise ValueError("a lease is stamped by the capture triggers on this engine")
        sql = _q(using, sql + "WHERE " + where)
    with connections[using].cursor() as cursor:
        cursor.execute(sql, [*head, *params])


def _stamp_range(session: Session, claim: str, lease: int | None) -> None:
    """Stamp the session's unstamped events (``capture_stamps_later`` engines)."""
    if session.ceiling is None:
        session.ceiling = _ceiling(session.using)
    _stamp(
        session,
        _q(session.using, '"id" > %s AND "id" <= %s AND "claimed_by" = %s'),
        [session.floor, session.ceiling, session.tag],
        claim=claim,
        lease=lease,
    )
    session.tag = claim
    session.unstamped_context = False


def _evict_only(record: EventRecord, using: str) -> None:
    """Update the identity map for an event nobody listens to (no instance is built)."""
    from rowsync import identity

    try:
        model = resolve_model(record)
    except EventDecodeError:
        return
    hook = getattr(identity, "discard_row", None)
    if record.op == UPDATE or hook is None:
        # An updated row needs its new values: build it (cheap next to a receiver).
        deliver_one(record, using, None, robust=True)
        return
    from rowsync.events.dispatch import _load_json

    row = _load_json(record.row)
    if isinstance(row, dict) and model._meta.pk is not None:
        pk = row.get(model._meta.pk.column)
        if pk is not None:
            hook(model, model._meta.pk.to_python(pk), using)


def _stream(session: Session, origin: Any, *, phase: str) -> bool:
    """Run delivery phase ``phase`` over the session's events; return whether any stayed.

    Each event's receivers are split by :func:`rowsync.events.receivers.split`: those of
    this phase are called now; the event is then deleted when no later phase needs it,
    kept (claimed, leased) for the on-commit phase, or released to the worker. An event
    that goes on after receivers ran here is marked ``delivered_through = phase``, so
    later phases (the worker's included) call only the others. Already-signalled events
    are deleted.
    """
    using = session.using
    size = conf.delivery_batch_size()
    if session.ceiling is None:
        session.ceiling = _ceiling(using)
    after = session.floor
    kept = False
    gap = True
    while after < session.ceiling:
        if gap:
            # The floor is MAX(id) of the table before the delete, far below the first
            # event when the table was empty; events of other transactions interleave.
            first = _next_id(using, after)
            if first is None:
                break
            after = max(after, first - 1)
            if after >= session.ceiling:
                break
        upto = min(after + size, session.ceiling)
        batch = _read_batch(using, session, after, upto)
        gap = not batch
        done: list[int] = []
        release: list[int] = []
        kept_ids: list[int] = []
        advanced: list[int] = []
        # Receivers may connect or disconnect in a receiver: split once per batch.
        # {(model label, op, delivered_through): (model, split)}
        splits: dict[tuple[str, str, str], tuple[type[models.Model], receivers.Split]] = {}
        fast: dict[type[models.Model], bool] = {}
        signalled = session.signalled
        for record in batch:
            if signalled and (record.model_label, record.pk_text) in signalled:
                done.append(record.id)
                continue
            key = (record.model_label, record.op, record.delivered_through)
            entry = splits.get(key)
            if entry is None:
                try:
                    model = resolve_model(record)
                except EventDecodeError:
                    release.append(record.id)  # the worker dead-letters it with the reason
                    continue
                signal = rowsync_signals.post_db_update if record.op == UPDATE else post_delete
                entry = splits[key] = (
                    model,
                    receivers.split(
                        signal, model, _model_mode(model), record.delivered_through, phase
                    ),
                )
            model, part = entry
            if part.calls:
                quick = fast.get(model)
                if quick is None:
                    quick = fast[model] = fast_rebuild_ok(model)
                plain = part.everyone and not record.delivered_through
                try:
                    deliver_one(
                        record, using, origin, fast=quick, only=None if plain else part.now
                    )
                except EventDecodeError:
                    release.append(record.id)
                    continue
            elif part.next_mode is None:
                _evict_only(record, using)
            if part.next_mode is None:
                done.append(record.id)
                continue
            if part.calls:
                advanced.append(record.id)
            if part.next_mode == "worker":
                release.append(record.id)
            else:
                kept = True
                kept_ids.append(record.id)
        _mark_delivered_through(using, advanced, phase)
        _release_ids(session, release)
        if kept_ids or (release and not session.tag):
            # Kept events carry the claim, and released ones the empty tag unstamped
            # events have: delete exactly the delivered ones.
            _delete_ids(using, done)
            if kept_ids and session.tag != session.claim:
                marks = ", ".join(["%s"] * len(kept_ids))
                _stamp(
                    session,
                    f'"id" IN ({marks})',
                    kept_ids,
                    claim=session.claim,
                    lease=session.lease,
                )
        elif batch:
            # Released events no longer carry the claim: the range takes the rest.
            _delete_range(using, session, after, upto)
        after = upto
    return kept


def _mark_delivered_through(using: str, ids: list[int], phase: str) -> None:
    """Record that phase ``phase`` called receivers of the events ``ids``."""
    if not ids:
        return
    marks = ", ".join(["%s"] * len(ids))
    with connections[using].cursor() as cursor:
        cursor.execute(
            _q(
                using,
                'UPDATE "rowsync_deleted_row" SET "delivered_through" = %s '
                f'WHERE "id" IN ({marks})',
            ),
            [phase, *ids],
        )


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


def _hold(session: Session, boxes: list[CaptureSpec]) -> None:
    """Lock the session's events and inbox rows before any on-commit receiver runs.

    Their lease (``ROWSYNC_DELIVERY_LEASE``) may run out while the receivers run; a worker
    then finds them due, but it claims and moves with ``SKIP LOCKED`` (or waits, with
    leases), so they stay this delivery's and are delivered once. Rows a worker took
    before the lock are gone: the worker delivered them, once. SQLite has no row locks:
    there the stamp that claims the inbox rows takes the database's write lock.
    """
    connection = connections[session.using]
    if not connection.features.has_select_for_update:
        return
    lock = connection.ops.for_update_sql()
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        for box in boxes:
            where, params = box_ops.session_rows(session, box)
            cursor.execute(f"SELECT 1 FROM {qn(box.inbox)} WHERE {where} {lock}", params)
            cursor.fetchall()
        if session.ceiling is None:
            session.ceiling = _ceiling(session.using)
        cursor.execute(
            _q(
                session.using,
                'SELECT "id" FROM "rowsync_deleted_row" '
                f'WHERE "id" > %s AND "id" <= %s AND "claimed_by" = %s {lock}',
            ),
            [session.floor, session.ceiling, session.tag],
        )
        cursor.fetchall()


def _drain_on_commit(using: str, session: Session, origin: Any) -> None:
    """Deliver an on-commit session's events after the commit, one transaction per batch."""
    try:
        with transaction.atomic(using=using):
            boxes = box_ops.touched(session) if session.box_waiting else []
            _hold(session, boxes)
            if session.box_waiting:
                if session.box_tag != session.claim:
                    # Triggers that write no claim: claim the rows first. The UPDATE takes
                    # SQLite's write lock before any receiver runs; rows a worker moved
                    # since the commit are gone (delivered once, by the worker).
                    box_ops.stamp(session, boxes, session.claim, session.lease)
                box_ops.move(session, box_ops.deliver_direct(session, boxes, origin, "on_commit"))
            _stream(session, origin, phase="on_commit")
    except Exception:
        # The events stay leased; a worker delivers them once the lease ends.
        logger.exception("rowsync: on-commit delivery failed; a worker will retry")


def _drop_signalled(session: Session) -> None:
    """Delete the events of rows Django's collector signalled itself (no streaming)."""
    using = session.using
    # {model label: [pk text]}
    by_label: dict[str, list[str]] = {}
    for label, pk_text in session.signalled:
        by_label.setdefault(label, []).append(pk_text)
    with connections[using].cursor() as cursor:
        for label, pks in by_label.items():
            for start in range(0, len(pks), 500):
                chunk = pks[start : start + 500]
                marks = ", ".join(["%s"] * len(chunk))
                cursor.execute(
                    _q(
                        using,
                        'DELETE FROM "rowsync_deleted_row" WHERE "id" > %s AND "claimed_by" = %s '
                        f'AND "model_label" = %s AND "pk_text" IN ({marks})',
                    ),
                    [session.floor, session.tag, label, *chunk],
                )


def finish(session: Session, origin: Any, modes: frozenset[str]) -> None:
    """Deliver or hand over what a capture session recorded (see the module docstring).

    Args:
        session: The finished capture session.
        origin: What ``delete()`` was called on.
        modes: The delivery modes of the captured models. When no model is delivered in
            the transaction, the events are not read now: only those of rows Django
            signalled itself are dropped, so ``delete()`` returns quickly.
    """
    using = session.using
    boxes = box_ops.touched(session)
    if boxes and session.signalled:
        box_ops.drop_signalled(session, boxes)
    if "transaction" not in modes and not ("worker" in modes and "on_commit" in modes):
        if not session.boxes:
            _drop_signalled(session)
        if "on_commit" in modes:
            # Every event of this delete is in place: the range delivery will read.
            session.ceiling = _ceiling(using)
            if session.tag != session.claim:
                # The lease must be in place when the transaction commits.
                _stamp_range(session, session.claim, session.lease)
            if boxes and session.box_tag != session.claim and session.context is not None:
                # Claimed after the commit (see _drain_on_commit); the context now, so a
                # worker that takes the rows first has it.
                box_ops.stamp(session, boxes, session.box_tag, None)
            session.box_waiting = bool(boxes)
        elif session.unstamped_context:
            _stamp_range(session, "", None)
            if boxes:
                box_ops.stamp(session, boxes, "", None)
        if "on_commit" in modes:
            transaction.on_commit(lambda: _drain_on_commit(using, session, origin), using=using)
        return
    box_ops.move(session, box_ops.deliver_direct(session, boxes, origin, "transaction"))
    kept = _stream(session, origin, phase="transaction")
    if kept and session.tag != session.claim:
        # The kept events were stamped batch by batch; read them by the claim now.
        session.tag = session.claim
        session.unstamped_context = False
    if kept:
        transaction.on_commit(lambda: _drain_on_commit(using, session, origin), using=using)


# {ROWSYNC_DELIVERY value: delivery modes of the captured models}
_MODES: dict[str, frozenset[str]] = {}


def _modes_in_play() -> frozenset[str]:
    key = conf.delivery_mode() + "|" + repr((conf.capture_selection(), conf.capture_exclude()))
    modes = _MODES.get(key)
    if modes is None:
        modes = _MODES[key] = frozenset(delivery_mode_for(m) for m in captured_models())
    # Receivers may declare their own modes at any time (cheap: a handful of entries).
    return modes | receivers.declared_modes()


def _deleted_models(collector: Collector) -> set[type[models.Model]]:
    """Return the models ``collector`` deletes rows of (the database may cascade further)."""
    found = set(collector.data)
    found.update(qs.model for qs in collector.fast_deletes)
    return found


def _wrapped_delete(collector: Collector, proceed: Callable[[], Any]) -> Any:
    using = collector.using
    deleted = _deleted_models(collector)
    if not may_record(deleted) or not is_supported(connections[using]):
        return proceed()  # no capture trigger can fire: Django's queries only
    signalled = _signalled_keys(collector)
    modes = _modes_in_play()
    worker_only = modes <= {"worker"}
    with transaction.atomic(using=using, savepoint=False):
        with capture_session(
            using,
            lease=None if worker_only else conf.delivery_lease(),
            claim="" if worker_only else None,
            models_deleted=deleted,
        ) as session:
            session.signalled = signalled
            result = proceed()
        finish(session, getattr(collector, "origin", None), modes)
    return result


def setup() -> None:
    """Add the capture session to ``Collector.delete``, when some model is captured."""
    if not captured_models():
        return
    _patch.add_delete_step(
        "events.capture_session",
        _wrapped_delete,
        order=_patch.ORDER_CAPTURE,
        feature="events",
    )
