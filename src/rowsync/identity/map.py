"""The identity map: one live instance per (concrete model, primary key, database).

An :class:`IdentityMap` holds, per mapped model (and per database alias for
``multi_db`` models), a *table* from primary key to instance. Weakly-referenced
tables store :class:`weakref.ref` objects in a plain ``dict`` and sweep dead
references lazily (amortised O(1) per insertion); this costs about a third of a
:class:`weakref.WeakValueDictionary`, whose per-entry ``KeyedRef`` is built in
Python. Strong tables store the instances and may be bounded: past the bound, the
oldest entries are *demoted* to the weak table, so an instance still in use keeps
its identity while an unused one can be freed.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Container, Iterator

from django.db.models import Model

from rowsync._typing import DbAlias, IdentityKey
from rowsync.exceptions import RowsyncError
from rowsync.identity.journal import stamp
from rowsync.identity.keys import REGISTRY, IdentityOptions, normalise_pk, pk_of

#: A weak table is swept once this many insertions happened since the last sweep
#: (or as many as it had live entries then, whichever is larger).
SWEEP_MIN = 1024


class IdentityConflict(RowsyncError):
    """Another live instance already represents this row in the map."""


class WeakTable(dict[object, "weakref.ref[Model]"]):
    """``{pk: weakref}`` with a lazy sweep of dead references."""

    __slots__ = ("budget",)

    def __init__(self) -> None:
        super().__init__()
        self.budget = SWEEP_MIN

    def sweep(self) -> None:
        """Drop dead references and reset the insertion budget."""
        # Iterate the live dict, not a list() copy of its items: the items iterator
        # reuses one tuple, while a copy allocates a GC-tracked tuple per entry, and
        # on a growing table those allocations triggered extra garbage collections.
        try:
            dead = [k for k, ref in self.items() if ref() is None]
        except RuntimeError:  # another thread changed a map handed to it meanwhile
            dead = [k for k, ref in list(self.items()) if ref() is None]
        for k in dead:
            self.pop(k, None)
        self.budget = max(SWEEP_MIN, len(self))

    def live(self) -> Iterator[tuple[object, Model]]:
        """Yield ``(pk, instance)`` for every live entry."""
        for k, ref in list(self.items()):
            obj = ref()
            if obj is not None:
                yield k, obj


class StrongTable(dict[object, Model]):
    """``{pk: instance}``; past ``limit`` entries the oldest are demoted to ``weak``."""

    __slots__ = ("limit", "weak")

    def __init__(self, limit: int | None, weak: WeakTable) -> None:
        super().__init__()
        self.limit = limit
        self.weak = weak

    def trim(self) -> None:
        """Demote the oldest entries until the table is within its limit."""
        limit = self.limit
        if limit is None:
            return
        while len(self) > limit:
            pk = next(iter(self))
            obj = self.pop(pk)
            self.weak[pk] = weakref.ref(obj)


class IdentityMap:
    """One identity map (a context's, a scope's or the shared one).

    Every verb takes or returns whole instances; keys are :data:`IdentityKey`
    tuples ``(concrete model, pk tuple, alias or None)``.

    Example:
        >>> m = IdentityMap()
        >>> m.add(article)
        >>> m.get(m.key_of(article)) is article
        True
    """

    __slots__ = ("__weakref__", "lock", "max_strong", "strong", "views", "weak")

    def __init__(self, *, max_strong: int | None = None, shared: bool = False) -> None:
        # {table key: {pk: weakref}}; table key = concrete model, or (model, alias)
        self.weak: dict[object, WeakTable] = {}
        # {table key: {pk: instance}} for models with use_strong_refs
        self.strong: dict[object, StrongTable] = {}
        # {(class, table key, pk): weakref}: proxy-class views of mapped rows
        self.views: dict[tuple[type[Model], object, object], weakref.ref[Model]] = {}
        self.max_strong = max_strong
        self.lock: threading.RLock | None = threading.RLock() if shared else None

    # -- tables ---------------------------------------------------------------
    def weak_table(self, tkey: object) -> WeakTable:
        """Return (creating it) the weak table for ``tkey``."""
        table = self.weak.get(tkey)
        if table is None:
            table = self.weak[tkey] = WeakTable()
        return table

    def strong_table(self, tkey: object) -> StrongTable:
        """Return (creating it) the strong table for ``tkey``."""
        table = self.strong.get(tkey)
        if table is None:
            table = self.strong[tkey] = StrongTable(self.max_strong, self.weak_table(tkey))
        return table

    # -- low-level access used by the loader ---------------------------------
    def lookup(self, opts: IdentityOptions, pk: object, db: DbAlias | None) -> Model | None:
        """Return the instance mapped for ``pk`` (a stored key value) or None."""
        tkey = opts.table_key(db)
        if opts.strong:
            strong = self.strong.get(tkey)
            if strong is not None:
                obj = strong.get(pk)
                if obj is not None:
                    return obj
        weak = self.weak.get(tkey)
        if weak is not None:
            ref = weak.get(pk)
            if ref is not None:
                return ref()
        return None

    def store(self, opts: IdentityOptions, pk: object, db: DbAlias | None, obj: Model) -> None:
        """Map ``obj`` under ``pk``, replacing whatever was there."""
        if self.lookup(opts, pk, db) is not obj:
            stamp(obj)  # newly mapped (what a savepoint rollback needs to know)
        tkey = opts.table_key(db)
        if opts.strong:
            table = self.strong_table(tkey)
            table[pk] = obj
            table.weak.pop(pk, None)
            if table.limit is not None and len(table) > table.limit:
                table.trim()
        else:
            weak = self.weak_table(tkey)
            weak[pk] = weakref.ref(obj)
            weak.budget -= 1
            if weak.budget <= 0:
                weak.sweep()

    def remove(self, opts: IdentityOptions, pk: object, db: DbAlias | None) -> None:
        """Forget the row ``pk`` of database ``db`` (no-op if absent).

        A single-database model's table holds one database's instance per pk: the row
        ``pk`` of *another* database is not the one mapped, and it stays mapped.
        """
        tkey = opts.table_key(db)
        if db is not None and not opts.multi_db:
            current = self.lookup(opts, pk, db)
            if current is not None and current._state.db != db:
                return
        strong = self.strong.get(tkey)
        if strong is not None:
            strong.pop(pk, None)
        weak = self.weak.get(tkey)
        if weak is not None:
            weak.pop(pk, None)
        if self.views:
            for vkey in [k for k in self.views if k[1] == tkey and k[2] == pk]:
                self.views.pop(vkey, None)

    def holds(self, opts: IdentityOptions, db: DbAlias, skip: Container[object] = ()) -> bool:
        """Return whether a live instance of a row of ``db`` is mapped, other than ``skip``.

        Args:
            opts: The model's options (its table in this map).
            db: The database alias of the rows asked about.
            skip: Keys (as the map stores them) not to count.

        Another thread changing the map meanwhile makes the answer True: callers take it
        as "maybe", never as "no".
        """
        tkey = opts.table_key(db)
        try:
            for pk, obj in (self.strong.get(tkey) or {}).items():
                if pk not in skip and obj._state.db == db:
                    return True
            for pk, ref in (self.weak.get(tkey) or {}).items():
                live = ref() if pk not in skip else None
                if live is not None and live._state.db == db:
                    return True
            for (_cls, vkey, pk), ref in self.views.items():
                live = ref() if vkey == tkey and pk not in skip else None
                if live is not None and live._state.db == db:
                    return True
        except RuntimeError:  # changed by another thread while iterated
            return True
        return False

    # -- public verbs ---------------------------------------------------------
    @staticmethod
    def key_of(obj: Model) -> IdentityKey:
        """Return the :data:`IdentityKey` of a mapped instance.

        Raises:
            RowsyncError: if the instance's model is not mapped.
        """
        opts = REGISTRY.get(type(obj))
        if opts is None:
            raise RowsyncError(f"{type(obj).__name__} is not mapped by the identity map")
        return opts.key(pk_of(opts, obj), obj._state.db)

    @staticmethod
    def _split(key: IdentityKey) -> tuple[IdentityOptions, object, DbAlias | None] | None:
        model, pk_tuple, db = key
        opts = REGISTRY.get(model)
        if opts is None:
            return None
        return opts, normalise_pk(opts, pk_tuple), db

    def get(self, key: IdentityKey) -> Model | None:
        """Return the live instance for ``key``, or None."""
        split = self._split(key)
        return None if split is None else self.lookup(*split)

    def add(self, obj: Model) -> None:
        """Map ``obj``.

        Raises:
            IdentityConflict: if another live instance is mapped for the same row.
        """
        opts = REGISTRY.get(type(obj))
        if opts is None:
            return
        pk, db = pk_of(opts, obj), obj._state.db
        current = self.lookup(opts, pk, db)
        if current is not None and current is not obj:
            raise IdentityConflict(
                f"{opts.concrete._meta.label} {pk!r} already has a live instance in the map"
            )
        self.store(opts, pk, db, obj)

    def replace(self, obj: Model) -> Model | None:
        """Map ``obj`` and return the instance it displaced (None if none or itself)."""
        opts = REGISTRY.get(type(obj))
        if opts is None:
            return None
        pk, db = pk_of(opts, obj), obj._state.db
        current = self.lookup(opts, pk, db)
        self.store(opts, pk, db, obj)
        return None if current is obj else current

    def discard(self, key: IdentityKey) -> None:
        """Forget the row ``key`` (no-op if absent)."""
        split = self._split(key)
        if split is not None:
            self.remove(*split)

    # -- bulk -----------------------------------------------------------------
    def instances(self, concrete: type[Model] | None = None) -> Iterator[Model]:
        """Yield every live mapped instance (of ``concrete`` only, if given)."""

        def wanted(tkey: object) -> bool:
            model = tkey[0] if isinstance(tkey, tuple) else tkey
            return concrete is None or model is concrete

        for tkey, strong in list(self.strong.items()):
            if wanted(tkey):
                yield from list(strong.values())
        for tkey, weak in list(self.weak.items()):
            if wanted(tkey):
                for _, obj in weak.live():
                    yield obj

    def clear(self, db: DbAlias | None = None, model: type[Model] | None = None) -> None:
        """Forget instances: all, or those of database ``db`` and/or model ``model``.

        Like django-idmap, ``db`` only narrows ``multi_db`` models: the tables of
        other models hold rows of any database and are cleared whole.
        """

        def hit(tkey: object) -> bool:
            t_model, t_db = tkey if isinstance(tkey, tuple) else (tkey, None)
            if model is not None and t_model is not model:
                return False
            return db is None or t_db is None or t_db == db

        for tkey in [k for k in self.strong if hit(k)]:
            self.strong.pop(tkey, None)
        for tkey in [k for k in self.weak if hit(k)]:
            self.weak.pop(tkey, None)
        for vkey in [k for k in self.views if hit(k[1])]:
            self.views.pop(vkey, None)

    def __len__(self) -> int:
        """Return the number of live instances."""
        return sum(1 for _ in self.instances())

    def __repr__(self) -> str:
        return f"<IdentityMap {len(self)} live>"
