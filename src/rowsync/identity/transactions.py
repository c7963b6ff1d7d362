"""Forget what a rolled-back transaction or savepoint did to mapped instances.

Django has no rollback signal, so rowsync wraps ``BaseDatabaseWrapper.rollback``
and ``savepoint_rollback`` (what ``atomic()`` calls when a block fails or
``set_rollback(True)`` was called, and what ``transaction.rollback()`` calls). After
either, the current context's map and the shared map are flushed for that database
(as SQLAlchemy expires everything on rollback): no instance created in the block and
no value set in it is served by the map afterwards. Instances the program still
holds keep their in-memory values; the next load reads the database.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

from rowsync.identity import scope
from rowsync.identity.clean import expire_clean
from rowsync.identity.keys import REGISTRY


def after_rollback(alias: str) -> None:
    """Flush the maps a rollback on connection ``alias`` may have made wrong.

    Their instances of that database first unload their clean fields (SQLAlchemy's
    expire on rollback): a value read or written in the rolled-back block is read
    again on next use; unsaved edits are kept.
    """
    for m in scope.maps_for_flush():
        for obj in m.instances():
            opts = REGISTRY.get(type(obj))
            if opts is not None and obj._state.db == alias:
                expire_clean(opts, obj, opts.attnames.difference(opts.pk_attnames))
    scope.clear_current(alias)


def wrap_rollback(original: Callable[..., Any]) -> Callable[..., Any]:
    """Return ``BaseDatabaseWrapper.rollback`` that flushes the maps afterwards."""

    def rollback(self: BaseDatabaseWrapper) -> Any:
        try:
            return original(self)
        finally:
            after_rollback(self.alias)

    rollback.__doc__ = original.__doc__
    return rollback


def wrap_savepoint_rollback(original: Callable[..., Any]) -> Callable[..., Any]:
    """Return ``BaseDatabaseWrapper.savepoint_rollback`` that flushes the maps afterwards."""

    def savepoint_rollback(self: BaseDatabaseWrapper, sid: str) -> Any:
        try:
            return original(self, sid)
        finally:
            after_rollback(self.alias)

    savepoint_rollback.__doc__ = original.__doc__
    return savepoint_rollback
