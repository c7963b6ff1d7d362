"""The state of an instance the loader maps: Django's ``ModelState`` and the map's weak reference.

A mapped row costs, besides Django's instance and ``ModelState``, a weak reference (the
map's entry) and the remembered row (``_state.rowsync_clean``, see
:mod:`rowsync.identity.clean`). Each of those is an object Python's cyclic garbage
collector tracks, and on Python 3.11 every tracked object a 100,000-row load keeps
alive brings full collections forward: two more per row made a cold load run five full
collections instead of three (``docs/benchmarks.md``). :class:`MappedState` is both the
``ModelState`` and the weak reference, and keeps a full row's values in its own
attributes, so a mapped row keeps exactly the objects a plain Django row keeps.
"""

from __future__ import annotations

import operator
import weakref
from typing import Any

from django.db.models import Model
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init
from django.dispatch.dispatcher import NO_RECEIVERS

#: Rows of at most this many fields are kept in the state's own attributes. CPython
#: stores an object's attributes inline, without a dict, while its class has at most
#: 30 attribute names; the rest are left to ModelState's own attributes.
INLINE_MAX = 20
#: Attribute names of the inline row values, by position.
INLINE_NAMES = tuple(f"_rowsync_{i}" for i in range(INLINE_MAX))


_END = object()
#: What an inline attribute (and ``_rowsync_held``) a state lacks reads as.
INLINE_END = _END
#: Returns the tuple of all inline attributes (``_END`` where a row had fewer fields).
_ALL_INLINE = operator.attrgetter(*INLINE_NAMES)


class MappedState(weakref.ref, ModelState):  # type: ignore[type-arg]
    """The ``_state`` of an instance the loader built, and the map's weak reference to it.

    It behaves as a plain ``ModelState`` (attributes, identity equality); calling it
    returns the instance, or None once the instance is gone. Django never replaces an
    instance's ``_state`` (it changes its attributes), so while the instance lives the
    map's entry *is* its ``_state``: a lookup reads ``db`` from the entry it already
    holds instead of from the instance (one memory read less per map hit). ``rowsync_clean`` reads
    and writes the remembered row wherever it is kept; copies and pickles of the
    state are plain ``ModelState`` objects.
    """

    # Class-level defaults (the inline names are set below the class): reading an
    # attribute an instance lacks finds _END instead of raising an AttributeError.
    _rowsync_held: Any = _END

    # What a map hit reads lives in the object itself, beside the reference (an
    # attribute dict is one more memory read away). The loader sets both at once.
    # ``db`` is ModelState's; ``_rowsync_prefetched`` is set once a prefetch run has
    # met the instance (:mod:`rowsync.identity.prefetch`): only then can it hold results
    # an earlier query stored, which a ``get()`` the map answers must drop.
    # ``_rowsync_epoch``: when the instance was mapped (:mod:`rowsync.identity.journal`).
    __slots__ = ("_rowsync_epoch", "_rowsync_prefetched", "db")
    db: str | None
    _rowsync_prefetched: bool
    _rowsync_epoch: int

    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__
    __repr__ = object.__repr__

    @property
    def rowsync_clean(self) -> Any:
        """The remembered row (see :mod:`rowsync.identity.clean`), None if none.

        The loader keeps a full row in ``_rowsync_0``, ``_rowsync_1``... (no counter:
        one more attribute per row measurably brought a full collection forward);
        anything assigned later is kept whole in ``_rowsync_held`` and wins.
        """
        held = self._rowsync_held
        if held is not _END:
            return held
        row = _ALL_INLINE(self)
        n = row.index(_END) if _END in row else INLINE_MAX
        return row[:n] if n else None

    @rowsync_clean.setter
    def rowsync_clean(self, value: Any) -> None:
        self._rowsync_held = value

    def _plain_dict(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if not k.startswith("_rowsync_")}
        state["db"] = self.db
        clean = self.rowsync_clean
        if clean is not None:
            state["rowsync_clean"] = clean
        state.pop("peers", None)  # Django 6.1: weak references cannot be copied
        return state

    def __copy__(self) -> ModelState:
        return plain_state(self._plain_dict())

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]:
        return plain_state, (self._plain_dict(),)


for _name in INLINE_NAMES:
    setattr(MappedState, _name, _END)


def _reader(n: int) -> Any:
    if n < 2:
        names = INLINE_NAMES[:n]
        return lambda state: tuple(getattr(state, name) for name in names)
    return operator.attrgetter(*INLINE_NAMES[:n])


#: ``INLINE_READERS[n](state)``: the first ``n`` inline values, a tuple (a full row of
#: ``n`` fields, read without probing the other attributes).
INLINE_READERS = tuple(_reader(n) for n in range(INLINE_MAX + 1))


def plain_state(values: dict[str, Any]) -> ModelState:
    """Return a ``ModelState`` holding ``values`` (copies and pickles of a ``MappedState``)."""
    state = ModelState()
    state.__dict__.update(values)
    return state


def release(state: MappedState) -> None:
    """Drop the relation cache of a dead instance's state (the map may still hold the state).

    The map keeps a dead instance's state until its lazy sweep: the related instances
    cached on it must not live on through it.
    """
    state.__dict__.pop("fields_cache", None)


#: ``{model class: whether its MRO defines no __init__/__new__ besides Model's}``
_PLAIN_CLASSES: dict[type[Model], bool] = {}
_pre_init_cache = pre_init.sender_receivers_cache
_post_init_cache = post_init.sender_receivers_cache


def plain_init(cls: type[Model]) -> bool:
    """Return whether ``cls(*row)`` would only set the row's attributes (and send nothing).

    True when no class of ``cls``'s MRO but ``Model`` defines ``__init__`` or ``__new__``
    (a custom one must run) and no ``pre_init``/``post_init`` receiver listens to
    ``cls`` (ImageField's dimensions, change trackers): the loader may then set the
    row's values as ``Model.__init__`` does, without its argument checks and signal
    sends. Receivers are read per call (they connect at any time), the MRO once per class.
    """
    plain = _PLAIN_CLASSES.get(cls)
    if plain is None:
        plain = _PLAIN_CLASSES[cls] = not any(
            "__init__" in vars(k) or "__new__" in vars(k)
            for k in cls.__mro__
            if k is not Model and k is not object
        )
    return (
        plain
        and (not pre_init.receivers or _pre_init_cache.get(cls) is NO_RECEIVERS)
        and (not post_init.receivers or _post_init_cache.get(cls) is NO_RECEIVERS)
    )


__all__ = [
    "INLINE_END",
    "INLINE_READERS",
    "INLINE_MAX",
    "INLINE_NAMES",
    "MappedState",
    "plain_init",
    "plain_state",
    "release",
]
