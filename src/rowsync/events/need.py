"""Whether an ORM delete needs a capture session, and what becomes of rows that need none.

A capture session (:mod:`rowsync.events.session`) costs queries around every ORM delete
that may fire a capture trigger. It is needed only when some captured row the delete may
remove (or change, ``SET NULL``/``SET DEFAULT``) can be needed by someone:

* its model has a ``post_delete``, ``post_delete_batch`` or ``post_db_update`` receiver
  in this process (any
  mode: connected with this model as sender, or with none);
* its model's delivery mode is ``"worker"`` (a worker may connect receivers this process
  lacks, so its events must reach the worker);
* its model is in the identity map, the *database* may delete or change its rows
  (through a foreign key it acts on), and some map of the process holds one of its rows
  (or a Django ``pre_delete``/``post_delete`` receiver, which runs inside the delete,
  may load one): the map must forget or update them. Rows Django's delete queries
  remove are evicted by the identity map's own hooks, so the rows the delete collected
  itself are not counted. A map that holds none of those rows has nothing to forget.

The captured models are those of :func:`rowsync.events.capture.cascade_closure`: the
models the delete removes rows of and every model the database deletes or changes from
them. A delete while another session is open on the connection (a receiver deleting rows)
always opens its own, as before.

When no model needs it, the delete runs Django's queries only. Its triggers still record
the rows, as for a raw SQL delete, unclaimed; nobody in any process needs them (receivers
are connected in every process), so :func:`leave` removes the unclaimed rows of those
models after the commit, in one statement per inbox (and one on the event table where
rows land there), instead of a session's statements around every delete. Without a
worker nothing piles up, as with a session; a rolled-back delete takes its rows with it.

The verdict is cached per set of deleted models. Connecting or disconnecting a receiver
empties the receiver caches of ``post_delete``, ``post_delete_batch`` and ``post_db_update``
(``Signal.sender_receivers_cache``): a marker kept in those caches tells whether the
verdicts still hold, so a delete pays a few dictionary lookups. What the identity maps
hold changes all the time: that part is asked at each delete, and only when a mapped
model is within the database's reach.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.signals import post_delete, pre_delete

from rowsync import conf, identity
from rowsync.events.capture import cascade_closure, db_action, is_captured, reverse_relations
from rowsync.events.instances import is_mapped
from rowsync.events.plan import Mode, model_mode
from rowsync.events.signals import post_db_update, post_delete_batch
from rowsync.events.watch import ReceiverWatch

__all__ = ["leave", "model_needs", "needs_session"]

logger = logging.getLogger("rowsync.events")


_WATCH = ReceiverWatch(post_delete, post_db_update, post_delete_batch)


@dataclass(frozen=True)
class _Verdict:
    """What a delete of a set of models needs, as far as receivers and settings tell."""

    #: A receiver (here or in a worker) may want the rows: a session, always.
    always: bool
    #: Mapped, captured models whose rows the database removes or changes: a session
    #: while some identity map holds one of their rows.
    watched: tuple[type[models.Model], ...] = ()


# {(settings, deleted models): what the delete needs}
_VERDICTS: dict[tuple[str, frozenset[type[models.Model]]], _Verdict] = {}

# {connection (per thread): {captured model whose unclaimed rows go after the commit}}
_PENDING: weakref.WeakKeyDictionary[BaseDatabaseWrapper, set[type[models.Model]]] = (
    weakref.WeakKeyDictionary()
)


def _settings_key() -> str:
    return repr(
        (
            conf.delivery_mode(),
            conf.capture_selection(),
            conf.capture_exclude(),
            conf.identity_map_selection(),
            conf.identity_map_exclude(),
        )
    )


def model_needs(model: type[models.Model]) -> bool:
    """Return whether a receiver, here or in a worker, may want the events of ``model``."""
    return (
        model_mode(model) is Mode.WORKER
        or post_delete.has_listeners(model)
        or post_delete_batch.has_listeners(model)
        or post_db_update.has_listeners(model)
    )


def _captured(deleted: frozenset[type[models.Model]]) -> list[type[models.Model]]:
    """Return the captured models a delete of ``deleted`` may remove or change rows of."""
    return [m for m in cascade_closure(deleted, changed=True) if is_captured(m)]


def _database_reaches(deleted: frozenset[type[models.Model]]) -> set[type[models.Model]]:
    """Return the models whose rows the database itself may delete or change (not Django).

    The children of ``deleted`` through a foreign key the database acts on (or leaves to
    the database, ``DO_NOTHING``), and everything the database cascades into below them.
    """
    below: set[type[models.Model]] = set()
    changed: set[type[models.Model]] = set()
    for model in deleted:
        for rel in reverse_relations(model._meta.concrete_model or model):
            child = rel.related_model
            if not isinstance(child, type) or not isinstance(rel.field, models.ForeignKey):
                continue
            action = db_action(rel.field)
            if action == "CASCADE" or rel.on_delete is models.DO_NOTHING:
                below.add(child)
            elif action is not None:
                changed.add(child._meta.concrete_model or child)
    return cascade_closure(below, changed=True) | changed


def _verdict(deleted: frozenset[type[models.Model]]) -> _Verdict:
    captured = _captured(deleted)
    if any(model_needs(m) for m in captured):
        return _Verdict(always=True)
    mapped = [m for m in captured if is_mapped(m)]
    if not mapped:
        return _Verdict(always=False)
    reached = _database_reaches(deleted)
    return _Verdict(always=False, watched=tuple(m for m in mapped if m in reached))


def _maps_hold(
    watched: Iterable[type[models.Model]],
    using: str,
    collected: Mapping[type[models.Model], Iterable[models.Model]],
) -> bool:
    """Return whether an identity map holds (or may load during the delete) watched rows."""
    # Django sends these inside Collector.delete: a receiver may load a row the database
    # removes a moment later, after the decision is taken.
    if any(pre_delete.has_listeners(m) or post_delete.has_listeners(m) for m in collected):
        return True
    return any(identity.holds_rows(m, using, collected) for m in watched)


def needs_session(
    deleted: frozenset[type[models.Model]],
    using: str = DEFAULT_DB_ALIAS,
    collected: Mapping[type[models.Model], Iterable[models.Model]] | None = None,
) -> bool:
    """Return whether an ORM delete of rows of ``deleted`` needs a capture session.

    Args:
        deleted: The models the delete removes rows of (collected or fast-deleted).
        using: The database alias of the delete.
        collected: ``Collector.data``: the instances Django's own ``DELETE`` removes
            (their rows leave the identity maps without a session).
    """
    if not _WATCH.unchanged():
        _VERDICTS.clear()
    key = (_settings_key(), deleted)
    found = _VERDICTS.get(key)
    if found is None:
        found = _VERDICTS[key] = _verdict(deleted)
    if found.always or not found.watched:
        return found.always
    return _maps_hold(found.watched, using, collected or {})


def leave(using: str, deleted: frozenset[type[models.Model]]) -> None:
    """Remove the unclaimed rows a delete without a session recorded, after the commit.

    Each delete registers the clean-up (a callback that finds nothing left to do when an
    earlier one ran): a rolled-back savepoint drops its own callback, not the later ones.
    """
    connection = connections[using]  # this thread's: the pending set is its transaction's
    pending = _PENDING.get(connection)
    if pending is None or not _still_registered(connection):
        # None of the earlier deletes' callbacks is waiting: their transaction (or
        # savepoints) rolled back, and their rows with it.
        pending = _PENDING[connection] = set()
    pending.update(_captured(deleted))
    if connection.in_atomic_block or connection.get_autocommit():
        transaction.on_commit(partial(_clean, connection), using=using)
    else:
        # Manual transaction management has no commit hook: remove them now, in the
        # transaction of the delete (what a session would have done).
        _clean(connection)


def _still_registered(connection: BaseDatabaseWrapper) -> bool:
    """Return whether a clean-up callback of this module waits for the connection's commit."""
    # run_on_commit holds (savepoint ids, callback, robust) tuples.
    return any(
        isinstance(item[1], partial) and item[1].func is _clean
        for item in connection.run_on_commit
    )


def _clean(connection: BaseDatabaseWrapper) -> None:
    using = connection.alias
    pending = _PENDING.pop(connection, set())
    # A receiver connected since the delete: its rows wait for the worker, as raw SQL's.
    # (The identity map no longer matters: the rows are gone either way.)
    wanted = [m for m in pending if not model_needs(m)]
    if not wanted:
        return
    try:
        _drop_unclaimed(using, wanted)
    except Exception:
        # The rows stay unclaimed: a worker delivers them, as after a raw SQL delete.
        logger.exception("rowsync: cannot remove the rows of deletes nobody listens to")


def _drop_unclaimed(using: str, wanted: Iterable[type[models.Model]]) -> None:
    from rowsync.backends import get_backend
    from rowsync.events import inbox

    backend = get_backend(connections[using])
    labels = {m._meta.label_lower for m in wanted}
    statements: list[tuple[str, list[Any]]] = []
    for box in inbox.present(using, inbox.specs(using)):
        if box.model_label in labels:
            statements.append((backend.inbox_delete_sql(box, backend.inbox_unclaimed_sql()), []))
            if not box.fk_columns:
                labels.discard(box.model_label)  # no row of it lands in the event table
    if labels:
        ordered = sorted(labels)
        statements.append((backend.events_drop_unclaimed_sql(len(ordered)), ordered))
    with connections[using].cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)
