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
  so the values each instance had read by then are true again: the clean fields of an
  instance mapped before the savepoint get back the row it remembered then (noted when
  it first changed, :mod:`rowsync.identity.journal`: taking a savepoint costs nothing
  per mapped row); an instance mapped after it is unloaded.
  An object of ``TestCase.setUpTestData`` is therefore not unloaded by each test's
  rollback, nor by a write a test made to its row (SQLAlchemy expires only what a
  rolled-back nested transaction touched; rowsync restores what it knew).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

from rowsync.identity import scope
from rowsync.identity.clean import expire_clean, restore_clean
from rowsync.identity.journal import Journal, close_all, close_journal, open_journal, stamp_of
from rowsync.identity.keys import REGISTRY


def after_rollback(alias: str, journal: Journal | None = None) -> None:
    """Flush the maps a rollback on connection ``alias`` may have made wrong.

    Their instances of that database first unload their clean fields after a
    transaction rollback (``journal`` None); after a savepoint rollback, those mapped
    before the savepoint get back the values they had read by then (the journal's
    notes; an instance not noted did not change). Unsaved edits are kept. The maps are
    flushed either way: an object the program holds is not served by the map
    afterwards (a TestCase's data must not carry one test's edits into the next).
    """
    for m in scope.maps_for_flush():
        for obj in m.instances():
            opts = REGISTRY.get(type(obj))
            if opts is None or obj._state.db != alias:
                continue
            if journal is not None:
                mapped_at = stamp_of(obj)
                if mapped_at is not None and mapped_at <= journal.epoch:
                    entry = journal.entries.get(id(obj))
                    if entry is not None and entry.ref() is obj:
                        restore_clean(opts, obj, entry.row)
                    continue
            expire_clean(opts, obj, opts.attnames.difference(opts.pk_attnames))
    scope.clear_current(alias)


def wrap_savepoint(original: Callable[..., Any]) -> Callable[..., Any]:
    """Return ``BaseDatabaseWrapper.savepoint`` that opens the savepoint's journal."""

    def savepoint(self: BaseDatabaseWrapper) -> Any:
        sid = original(self)
        if sid is not None and REGISTRY:
            open_journal(self, sid)
        return sid

    savepoint.__rowsync_wrapped__ = original  # type: ignore[attr-defined]
    savepoint.__doc__ = original.__doc__
    return savepoint


def wrap_savepoint_commit(original: Callable[..., Any]) -> Callable[..., Any]:
    """Return ``BaseDatabaseWrapper.savepoint_commit`` that closes the savepoint's journal."""

    def savepoint_commit(self: BaseDatabaseWrapper, sid: str) -> Any:
        close_journal(self, sid)
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
            close_all(self)  # the transaction's savepoints are gone
            after_rollback(self.alias)

    rollback.__doc__ = original.__doc__
    return rollback


def wrap_savepoint_rollback(original: Callable[..., Any]) -> Callable[..., Any]:
    """Return ``BaseDatabaseWrapper.savepoint_rollback`` that flushes the maps afterwards."""

    def savepoint_rollback(self: BaseDatabaseWrapper, sid: str) -> Any:
        # atomic() releases a savepoint after rolling back to it: its journal closes now
        # (its notes pass to the enclosing savepoint before the rows are given back).
        journal = close_journal(self, sid)
        try:
            return original(self, sid)
        finally:
            after_rollback(self.alias, journal)

    savepoint_rollback.__doc__ = original.__doc__
    return savepoint_rollback
