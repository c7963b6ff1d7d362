"""Forget what a rolled-back transaction or savepoint did to mapped instances.

Django has no rollback signal, so rowsync wraps ``BaseDatabaseWrapper.rollback``
and ``savepoint_rollback`` (what ``atomic()`` calls when a block fails or
``set_rollback(True)`` was called, and what ``transaction.rollback()`` calls). After
either, the current context's map and the shared map are flushed for that database:
no instance created in the block and no value set in it is served by the map
afterwards. Instances the program still holds keep their unsaved edits; the values
they read from, or wrote to, the database may be wrong and are unloaded (expired):

* a transaction rollback unloads every clean field (SQLAlchemy's expire on rollback);
* a savepoint rollback returns the rows to their state when the savepoint was taken,
  so the values each instance had read by then are true again: ``savepoint()`` notes
  them (the remembered row, a reference in the common case) and the rollback gives
  them back to the clean fields; what the instance had not read then is unloaded.
  An object of ``TestCase.setUpTestData`` is therefore not unloaded by each test's
  rollback, nor by a write a test made to its row (SQLAlchemy expires only what a
  rolled-back nested transaction touched; rowsync restores what it knew).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

from rowsync.identity import scope
from rowsync.identity.clean import expire_clean, restore_clean
from rowsync.identity.keys import REGISTRY

#: ``connection.__dict__`` key of ``{savepoint id: Snapshot}``
_SNAPSHOTS = "rowsync_savepoint_snapshots"

# {id(obj): (weakref to obj, the remembered row then: a tuple, or a dict copy)}
Snapshot = dict[int, tuple["weakref.ref[Model]", Any]]


def _remembered_row(obj: Model) -> Any:
    row = getattr(obj._state, "rowsync_clean", None)
    return dict(row) if type(row) is dict else row


def take_snapshot(alias: str) -> Snapshot:
    """Note what the mapped instances of database ``alias`` have read, for a savepoint."""
    snapshot: Snapshot = {}
    for m in scope.maps_for_flush():
        for obj in m.instances():
            if obj._state.db == alias and type(obj) in REGISTRY:
                snapshot[id(obj)] = (weakref.ref(obj), _remembered_row(obj))
    return snapshot


def after_rollback(alias: str, snapshot: Snapshot | None = None) -> None:
    """Flush the maps a rollback on connection ``alias`` may have made wrong.

    Their instances of that database first unload their clean fields after a
    transaction rollback (``snapshot`` None); after a savepoint rollback, those mapped
    before the savepoint get back the values they had read by then. Unsaved edits are
    kept. The maps are flushed either way: an object the program holds is not served
    by the map afterwards (a TestCase's data must not carry one test's edits into the
    next).
    """
    for m in scope.maps_for_flush():
        for obj in m.instances():
            opts = REGISTRY.get(type(obj))
            if opts is None or obj._state.db != alias:
                continue
            noted = None if snapshot is None else snapshot.get(id(obj))
            if noted is not None and noted[0]() is obj:
                restore_clean(opts, obj, noted[1])
            else:
                expire_clean(opts, obj, opts.attnames.difference(opts.pk_attnames))
    scope.clear_current(alias)


def _snapshots(connection: BaseDatabaseWrapper) -> dict[str, Snapshot]:
    found: dict[str, Snapshot] | None = connection.__dict__.get(_SNAPSHOTS)
    if found is None:
        found = connection.__dict__[_SNAPSHOTS] = {}
    return found


def wrap_savepoint(original: Callable[..., Any]) -> Callable[..., Any]:
    """Return ``BaseDatabaseWrapper.savepoint`` that notes what mapped instances had read."""

    def savepoint(self: BaseDatabaseWrapper) -> Any:
        sid = original(self)
        if sid is not None and REGISTRY:
            _snapshots(self)[sid] = take_snapshot(self.alias)
        return sid

    savepoint.__rowsync_wrapped__ = original  # type: ignore[attr-defined]
    savepoint.__doc__ = original.__doc__
    return savepoint


def wrap_savepoint_commit(original: Callable[..., Any]) -> Callable[..., Any]:
    """Return ``BaseDatabaseWrapper.savepoint_commit`` that forgets the savepoint's notes."""

    def savepoint_commit(self: BaseDatabaseWrapper, sid: str) -> Any:
        _snapshots(self).pop(sid, None)
        return original(self, sid)

    savepoint_commit.__rowsync_wrapped__ = original  # type: ignore[attr-defined]
    savepoint_commit.__doc__ = original.__doc__
    return savepoint_commit


def wrap_rollback(original: Callable[..., Any]) -> Callable[..., Any]:
    """Return ``BaseDatabaseWrapper.rollback`` that flushes the maps afterwards."""

    def rollback(self: BaseDatabaseWrapper) -> Any:
        try:
            return original(self)
        finally:
            _snapshots(self).clear()  # the transaction's savepoints are gone
            after_rollback(self.alias)

    rollback.__doc__ = original.__doc__
    return rollback


def wrap_savepoint_rollback(original: Callable[..., Any]) -> Callable[..., Any]:
    """Return ``BaseDatabaseWrapper.savepoint_rollback`` that flushes the maps afterwards."""

    def savepoint_rollback(self: BaseDatabaseWrapper, sid: str) -> Any:
        # atomic() releases a savepoint after rolling back to it: its notes go now.
        snapshot = _snapshots(self).pop(sid, None)
        try:
            return original(self, sid)
        finally:
            after_rollback(self.alias, snapshot)

    savepoint_rollback.__doc__ = original.__doc__
    return savepoint_rollback
