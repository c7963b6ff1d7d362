"""Batch receivers: one call with every deleted instance of a model in a delivery batch.

A receiver connected to :data:`rowsync.events.signals.post_delete_batch` is a
``post_delete`` receiver that takes its instances in lists. Every delivery path treats
it as one more ``post_delete`` receiver (its delivery mode, :func:`receiver_delivery`,
the phase split of :mod:`rowsync.events.receivers`): where that path would call it with
one instance, the instance is *collected* instead; when the delivery batch has sent
every event (still inside its transaction), each receiver is called once per model and
database with the instances collected for it, in event order.

A delivery batch is what :func:`collecting` encloses: the worker's batch transaction, a
batch of in-process delivery (``ROWSYNC_DELIVERY_BATCH_SIZE`` events), and each event
of the worker's one-by-one retry inside its savepoint (a list of one). Outside any batch
(``rowsync.events.dispatch.deliver``, replay) the receiver is called at once with one
instance. Without a ``post_delete_batch`` receiver nothing here runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from asgiref.sync import async_to_sync
from django.db import models

from rowsync.events.signals import post_delete_batch

__all__ = ["collect", "collecting", "collectors", "has_receivers"]

Receiver = Callable[..., Any]

# {(receiver, model, alias, id(origin)): (callable, origin, [instance])}, per delivery batch.
Buckets = dict[
    tuple[Receiver, type[models.Model], str, int], tuple[Receiver, Any, list[models.Model]]
]

_BUCKETS: ContextVar[Buckets | None] = ContextVar("rowsync_batch_buckets", default=None)


def has_receivers() -> bool:
    """Return whether any receiver is connected to ``post_delete_batch`` (cheap)."""
    return bool(post_delete_batch.receivers)


def _live(sender: type[models.Model]) -> list[tuple[Receiver, Receiver]]:
    """Return ``[(receiver, callable)]`` of ``post_delete_batch`` for ``sender``."""
    sync, asynchronous = post_delete_batch._live_receivers(sender)
    return [(r, r) for r in sync] + [(r, async_to_sync(r)) for r in asynchronous]


def collectors(sender: type[models.Model]) -> list[tuple[Receiver, Receiver]]:
    """Return ``[(receiver, per-instance callable)]`` for the batch receivers of ``sender``.

    The callable has ``post_delete``'s signature: :mod:`rowsync.events.receivers` lists it
    among the ``post_delete`` receivers, so every phase calls it once per event, and it
    collects the instance for its receiver.
    """
    if not has_receivers():
        return []
    return [(receiver, _collector(receiver, call)) for receiver, call in _live(sender)]


def _collector(receiver: Receiver, call: Receiver) -> Receiver:
    def collect_one(
        *, sender: type[models.Model], instance: models.Model, using: str, **named: Any
    ) -> None:
        _add(receiver, call, sender, instance, using, named.get("origin"))

    return collect_one


def collect(sender: type[models.Model], instance: models.Model, using: str, origin: Any) -> None:
    """Collect ``instance`` for every batch receiver of ``sender`` (a plain ``send``)."""
    if not has_receivers():
        return
    for receiver, call in _live(sender):
        _add(receiver, call, sender, instance, using, origin)


def _add(
    receiver: Receiver,
    call: Receiver,
    sender: type[models.Model],
    instance: models.Model,
    using: str,
    origin: Any,
) -> None:
    buckets = _BUCKETS.get()
    if buckets is None:  # outside a delivery batch: a batch of one, now
        _call(call, sender, [instance], using, origin)
        return
    key = (receiver, sender, using, id(origin))
    entry = buckets.get(key)
    if entry is None:
        entry = buckets[key] = (call, origin, [])
    entry[2].append(instance)


@contextmanager
def collecting() -> Iterator[None]:
    """Enclose one delivery batch: collect batch receivers' instances, call them at the end.

    The receivers are called when the block ends without an exception, in the order each
    first got an instance, still inside the caller's transaction; an exception a receiver
    raises propagates (the caller's transaction or savepoint rolls back, as for a
    ``post_delete`` receiver). When the block raises, nothing is called.
    """
    buckets: Buckets = {}
    token = _BUCKETS.set(buckets)
    try:
        yield
    finally:
        _BUCKETS.reset(token)
    for (_receiver, sender, using, _ident), (call, origin, instances) in buckets.items():
        _call(call, sender, instances, using, origin)


def _call(
    call: Receiver,
    sender: type[models.Model],
    instances: list[models.Model],
    using: str,
    origin: Any,
) -> None:
    call(signal=post_delete_batch, sender=sender, instances=instances, using=using, origin=origin)
