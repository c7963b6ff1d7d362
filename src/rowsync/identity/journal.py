"""What mapped instances had read when a savepoint was taken, noted only when it changes.

A rollback to a savepoint returns the rows to their state when the savepoint was taken,
so the values each mapped instance had read by then are true again
(:mod:`rowsync.identity.transactions` gives them back). Copying every instance's
remembered row when the savepoint is taken would make each ``atomic()`` block, and each
``get_or_create()``, cost time in proportion to the rows the map holds; instead a
savepoint opens an empty *journal* and an *epoch* (a number that grows with each
savepoint), and:

* every instance gets the epoch current when it is mapped (its *stamp*, on ``_state``);
  a savepoint keeps the epoch current when it is taken and moves it on, so a stamp
  above the savepoint's epoch means "mapped after the savepoint";
* :mod:`rowsync.identity.clean` calls :func:`note` just before it changes an instance's
  remembered row: the first change after the savepoint copies the row into the
  innermost journal (copy on write);
* releasing a savepoint hands its notes to the enclosing one, where that one has none.

On rollback: a noted instance gets its row back, an instance stamped at or before the
savepoint's epoch and not noted did not change, any other is unloaded (expired).
"""

from __future__ import annotations

import threading
import weakref
from typing import Any, NamedTuple

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

#: ``connection.__dict__`` key of the open journals, ``{savepoint id: Journal}``, in
#: the order the savepoints were taken (the last is the innermost).
_JOURNALS = "rowsync_savepoint_journals"

_lock = threading.Lock()
#: The epoch: grows by one with each savepoint taken while instances are mapped.
epoch = 0
#: How many journals are open in the process (0: :func:`note` has nothing to do).
_open = 0


class Entry(NamedTuple):
    """One instance's remembered row as it was before its first change in a savepoint."""

    ref: weakref.ref[Model]
    row: Any
    stamp: int


class Journal(NamedTuple):
    """The notes of one open savepoint."""

    epoch: int
    entries: dict[int, Entry]


def stamp_of(obj: Model) -> int | None:
    """Return the epoch at which ``obj`` was mapped (None: unknown)."""
    return getattr(obj._state, "_rowsync_epoch", None)


def stamp(obj: Model) -> None:
    """Give ``obj``, just mapped, the current epoch."""
    obj._state._rowsync_epoch = epoch  # type: ignore[attr-defined]


def _journals(connection: BaseDatabaseWrapper) -> dict[str, Journal]:
    found: dict[str, Journal] | None = connection.__dict__.get(_JOURNALS)
    if found is None:
        found = connection.__dict__[_JOURNALS] = {}
    return found


def open_journal(connection: BaseDatabaseWrapper, sid: str) -> None:
    """Open the journal of savepoint ``sid`` (just taken on ``connection``)."""
    global epoch, _open
    with _lock:
        # Instances mapped from now on get a later epoch than the savepoint's.
        _journals(connection)[sid] = Journal(epoch, {})
        epoch += 1
        _open += 1


def close_journal(connection: BaseDatabaseWrapper, sid: str) -> Journal | None:
    """Close savepoint ``sid``'s journal; hand its notes to the enclosing savepoint's.

    Returns:
        The journal (None if the savepoint had none).
    """
    global _open
    journals = _journals(connection)
    journal = journals.pop(sid, None)
    if journal is None:
        return None
    with _lock:
        _open -= 1
    if journals:
        outer = next(reversed(journals.values()))
        for key, entry in journal.entries.items():
            # An instance mapped after the enclosing savepoint is new to it: not noted.
            if entry.stamp <= outer.epoch and key not in outer.entries:
                outer.entries[key] = entry
    return journal


def close_all(connection: BaseDatabaseWrapper) -> None:
    """Close every journal of ``connection`` (its transaction ended)."""
    global _open
    journals = _journals(connection)
    if journals:
        with _lock:
            _open -= len(journals)
        journals.clear()


def _copy(row: Any) -> Any:
    return dict(row) if type(row) is dict else row


def remembered_row(obj: Model) -> Any:
    """Return a copy of ``obj``'s remembered row (a tuple, a dict or None)."""
    return _copy(getattr(obj._state, "rowsync_clean", None))


def note(obj: Model) -> None:
    """Note ``obj``'s remembered row before it changes, if a savepoint may need it back.

    Called by :mod:`rowsync.identity.clean` before each change of the remembered row.
    """
    if not _open:
        return
    state: Any = obj._state
    mapped_at = getattr(state, "_rowsync_epoch", None)
    if mapped_at is None or state.db is None:
        return
    journals = connections[state.db].__dict__.get(_JOURNALS)
    if not journals:
        return
    journal = next(reversed(journals.values()))
    if mapped_at > journal.epoch or id(obj) in journal.entries:
        return  # mapped after the savepoint (unloaded on rollback), or noted already
    journal.entries[id(obj)] = Entry(weakref.ref(obj), remembered_row(obj), mapped_at)


__all__ = [
    "Entry",
    "Journal",
    "close_all",
    "close_journal",
    "note",
    "open_journal",
    "remembered_row",
    "stamp",
    "stamp_of",
]
