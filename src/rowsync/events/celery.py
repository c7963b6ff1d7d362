"""Hand events over to Celery: one task per row, published after the commit, keyed by event id.

:func:`celery_handoff` connects a receiver that publishes a Celery task with the JSON
payload of :func:`rowsync.events.handoff.event_payload` (row image, model label, op, actor
context, event id). The Celery task id is the idempotency key of the event
(:func:`task_id_for`): ``rowsync:<alias>:<event id>``. :func:`once` (with a
:class:`RedisLedger`) makes a consumer skip a key it has already processed.

When a delivery is published (``docs/celery.md`` has the whole table):

* a delivery that carries an event id, to a receiver in mode ``"on_commit"`` or
  ``"worker"``: published at once, inside the transaction that deletes the event
  afterwards. The delete of the rows has committed; if the broker refuses the message the
  receiver raises, the event stays, and it is delivered again (at least once);
* any other delivery (rows Django's collector signalled itself, rows delivered straight
  from an inbox, receivers in mode ``"transaction"``): published by
  ``transaction.on_commit``, at most once; a failure is logged with the payload.

Nothing here imports Celery: any object with Celery's ``apply_async(args=..., task_id=...)``
works.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from django.db import models, transaction
from django.db.models.signals import post_delete
from django.dispatch import Signal

from rowsync.events.handoff import event_payload
from rowsync.events.plan import Mode, model_mode
from rowsync.events.receivers import NEEDS_EVENT_ID, mode_of, receiver_delivery

__all__ = [
    "EventInFlight",
    "Ledger",
    "Publishable",
    "RedisLedger",
    "celery_handoff",
    "once",
    "task_id_for",
]

logger = logging.getLogger("rowsync.events.celery")

R = TypeVar("R")

#: The modes whose phases run after the delete committed (publishing there is safe).
_AFTER_COMMIT = frozenset({Mode.ON_COMMIT, Mode.WORKER})


class Publishable(Protocol):
    """What :func:`celery_handoff` needs: a Celery task (``@app.task``) or anything alike."""

    def apply_async(self, *args: Any, **kwargs: Any) -> Any: ...


def task_id_for(payload: Mapping[str, Any]) -> str:
    """Return the idempotency key (Celery task id) of a payload.

    ``rowsync:<alias>:<event id>`` when the delivery has an event id: every delivery of
    that event, and every redelivery of its message, has the same key. Deliveries without
    an event id (see :func:`rowsync.events.handoff.event_id`) are published once; they get
    ``rowsync:<alias>:x<random hex>``, unique to that publish.
    """
    event = payload.get("event_id")
    suffix = f"x{uuid.uuid4().hex}" if event is None else str(event)
    return f"rowsync:{payload['using']}:{suffix}"


def _publish(task: Publishable, payload: dict[str, Any], options: Mapping[str, Any]) -> None:
    task.apply_async(args=(payload,), task_id=payload["task_id"], **options)


def _publish_later(task: Publishable, payload: dict[str, Any], options: Mapping[str, Any]) -> None:
    """Publish after the commit of the transaction in progress (at once outside one)."""

    def publish() -> None:
        try:
            _publish(task, payload, options)
        except Exception:
            # Committed already: nothing to roll back. Log what is lost, to re-publish.
            logger.exception("rowsync: lost Celery hand-off %s: %r", payload["task_id"], payload)

    transaction.on_commit(publish, using=payload["using"])


def _after_commit(receiver: Callable[..., None], sender: type[models.Model]) -> bool:
    """Return whether rowsync calls ``receiver`` with event ids only after the delete commits.

    Phases ``"on_commit"`` and ``"worker"`` (and replay) run after the commit of the
    delete; phase ``"transaction"`` runs inside it.
    """
    return mode_of(receiver, model_mode(sender)) in _AFTER_COMMIT


def celery_handoff(
    task: Publishable,
    *,
    sender: type[models.Model] | None = None,
    signal: Signal = post_delete,
    delivery: str | None = "worker",
    dispatch_uid: str | None = None,
    options: Mapping[str, Any] | None = None,
) -> Callable[..., None]:
    """Connect a receiver that publishes ``task`` with the payload of each row.

    The payload is :func:`rowsync.events.handoff.event_payload` plus ``"task_id"``
    (:func:`task_id_for`), also the Celery task id.

    Args:
        task: A Celery task whose function takes the payload (one argument).
        sender: Only rows of this model (None: every model's).
        signal: ``post_delete`` (default) or ``rowsync.events.signals.post_db_update``.
        delivery: The receiver's delivery mode: ``"worker"`` (default, the one where no
            event is lost), ``"on_commit"``, ``"transaction"``, or None for the model's.
        dispatch_uid: Passed to ``signal.connect`` (connect once per process).
        options: Further ``apply_async`` options (``queue=``, ``priority=``...).

    Returns:
        The receiver, connected strongly; disconnect it with ``signal.disconnect(sender=
        sender, dispatch_uid=dispatch_uid)``.

    Example:
        >>> @app.task(acks_late=True, reject_on_worker_lost=True)
        ... @once(RedisLedger("redis://127.0.0.1:6379/2"))
        ... def purge_cdn(event):
        ...     article = instance_from_payload(event)
        >>> celery_handoff(purge_cdn, sender=Article, dispatch_uid="purge_cdn")
    """
    extra = dict(options or {})

    def publish_event(
        sender: type[models.Model], instance: models.Model, using: str, **kwargs: Any
    ) -> None:
        kwargs.pop("origin", None)  # not serializable, and gone by the time the task runs
        payload = event_payload(sender, instance, using, **kwargs)
        payload["task_id"] = task_id_for(payload)
        if payload["event_id"] is not None and _after_commit(publish_event, sender):
            # After the delete's commit, before the event's: a refusal raises, the
            # event stays and is delivered again.
            _publish(task, payload, extra)
        else:
            _publish_later(task, payload, extra)

    # Its task id is the event id: a worker keeps these rows in the event table.
    setattr(publish_event, NEEDS_EVENT_ID, True)
    if delivery is not None:
        receiver_delivery(delivery)(publish_event)
    signal.connect(publish_event, sender=sender, weak=False, dispatch_uid=dispatch_uid)
    return publish_event


class EventInFlight(Exception):
    """Another delivery of the same key is running (or died within its lease): retry later.

    Give the task ``autoretry_for=(EventInFlight,)`` (or catch it and ``self.retry()``).
    """


class Ledger(Protocol):
    """Where :func:`once` records the keys it processed."""

    def begin(self, key: str) -> bool | None:
        """Reserve ``key``: True to run, False when already done, None when in flight."""
        ...

    def done(self, key: str) -> None:
        """Record that ``key`` was processed."""
        ...

    def abort(self, key: str) -> None:
        """Release the reservation of ``key`` (the task failed: it may run again)."""
        ...


# Delete KEYS[1] only while it holds our reservation ARGV[1].
_ABORT = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"


class RedisLedger:
    """A :class:`Ledger` in Redis: ``SET key <token> NX PX lease``, then ``"done"`` with a TTL.

    Args:
        url: Redis URL (``redis://host:port/db``); or pass ``client``.
        prefix: Prefix of the ledger's keys.
        ttl: Seconds a processed key is remembered (longer than any redelivery delay).
        lease: Seconds a reservation lasts: longer than the task runs, shorter than the
            broker's visibility timeout (a killed worker's message is then run again).
        client: A ``redis.Redis`` client to use instead of ``url``.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        prefix: str = "rowsync:once:",
        ttl: float = 7 * 24 * 3600,
        lease: float = 300,
        client: Any = None,
    ) -> None:
        if client is None:
            import redis

            client = redis.Redis.from_url(url or "redis://127.0.0.1:6379/0")
        self.client = client
        self.prefix, self.ttl_ms, self.lease_ms = prefix, int(ttl * 1000), int(lease * 1000)
        self._tokens: dict[str, str] = {}  # {key: our reservation token}

    def begin(self, key: str) -> bool | None:
        """Reserve ``key`` (see :meth:`Ledger.begin`)."""
        token = f"run:{uuid.uuid4().hex}"
        if self.client.set(self.prefix + key, token, nx=True, px=self.lease_ms):
            self._tokens[key] = token
            return True
        held = self.client.get(self.prefix + key)
        if held == b"done":
            return False
        return None if held is not None else self.begin(key)  # expired meanwhile

    def done(self, key: str) -> None:
        """Record ``key`` as processed for ``ttl`` seconds."""
        self._tokens.pop(key, None)
        self.client.set(self.prefix + key, "done", px=self.ttl_ms)

    def abort(self, key: str) -> None:
        """Release our reservation of ``key`` (not another delivery's)."""
        token = self._tokens.pop(key, None)
        if token is not None:
            self.client.eval(_ABORT, 1, self.prefix + key, token)


def once(ledger: Ledger) -> Callable[[Callable[[Any], R]], Callable[[Any], R | None]]:
    """Run the decorated task function once per key (``payload["task_id"]``).

    A key already done is skipped (returns None). Put it under ``@app.task`` so that the
    task's options (``acks_late``, ``autoretry_for``) stay Celery's. ``docs/celery.md``
    says where a duplicate can still happen (a worker lost between the work and
    :meth:`Ledger.done`).

    Raises:
        EventInFlight: another delivery of the key holds a live reservation.
    """

    def decorate(func: Callable[[Any], R]) -> Callable[[Any], R | None]:
        @functools.wraps(func)
        def run_once(payload: Any) -> R | None:
            key = payload["task_id"]
            state = ledger.begin(key)
            if state is False:
                return None
            if state is None:
                raise EventInFlight(key)
            try:
                result = func(payload)
            except BaseException:
                ledger.abort(key)
                raise
            ledger.done(key)
            return result

        return run_once

    return decorate
