"""Turn rows into instances through the identity map (``Model.from_db``).

``from_db`` is the one hook every ORM path that builds instances from rows goes
through: querysets (``all``, ``filter``, ``get``, ``iterator``), ``select_related``,
``prefetch_related``, ``raw()`` and ``refresh_from_db``. rowsync installs
:func:`from_db` as ``Model.from_db`` (only when some model is mapped), and it
returns Django's own result for unmapped models.

Re-fetch policy (a row that is already mapped):

* the mapped instance is returned: identity is kept;
* its clean fields (what it last read from or wrote to the row) are **refreshed**
  from the row, its unsaved edits are **kept**, and fields it has not loaded
  (deferred by ``only()``/``defer()``, or expired by a write) are **filled** from the
  row (see :mod:`rowsync.identity.clean`);
* ``populate_existing()`` querysets and ``select_for_update()`` querysets overwrite
  every loaded value (edits too) with the row (and drop foreign-key caches that no longer match).

Values are always matched to fields by attname, never by position, so a partial
row (``only``/``defer``) can never shift values into the wrong fields.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

from django.db.models import Model
from django.db.models.base import DEFERRED

from rowsync._typing import DbAlias
from rowsync.identity import journal, scope
from rowsync.identity.clean import drop_cached_relation, refresh, refresh_row, remember_values
from rowsync.identity.keys import REGISTRY, IdentityOptions
from rowsync.identity.map import IdentityMap
from rowsync.identity.reread import PREFETCHED, drop_prefetched
from rowsync.identity.scope import BYPASS, NORMAL, POPULATE, SHARED, Session
from rowsync.identity.state import INLINE_MAX, INLINE_NAMES, MappedState, plain_init, release

_MISSING = object()
_get_session = scope._CURRENT.get
_ref = weakref.ref


def plain_from_db(
    cls: type[Model],
    db: DbAlias,
    field_names: Sequence[str],
    values: Sequence[Any],
    fetch_mode: Any = None,
) -> Model:
    """Build an unmapped instance exactly as Django's ``Model.from_db`` does."""
    if len(values) != len(cls._meta.concrete_fields):
        values_iter = iter(values)
        values = [
            next(values_iter) if f.attname in field_names else DEFERRED
            for f in cls._meta.concrete_fields
        ]
    new = cls(*values)
    new._state.adding = False
    new._state.db = db
    if fetch_mode is not None:
        new._state.fetch_mode = fetch_mode  # type: ignore[attr-defined]  # Django >= 6.1
    return new


def from_db(
    cls: type[Model],
    db: DbAlias,
    field_names: Sequence[str],
    values: Sequence[Any],
    *,
    fetch_mode: Any = None,
) -> Model:
    """Return the instance for a row: the mapped one if the row is mapped.

    Installed as ``Model.from_db`` (a classmethod). The fast path (weakly-mapped,
    single-database model, normal load) does one registry lookup, one contextvar
    read and two dict lookups per row. A new instance's ``_state`` is the map's weak
    reference to it and holds the remembered row (:class:`~rowsync.identity.state.MappedState`);
    a model without a custom ``__init__`` or init signal receivers gets the row's
    values without ``Model.__init__`` (:func:`~rowsync.identity.state.plain_init`).
    """
    opts = REGISTRY.get(cls)
    if opts is None:
        return plain_from_db(cls, db, field_names, values, fetch_mode)
    session = _get_session()
    if session is None:
        session = scope.current_session()
    if session.mode or not opts.fast or len(values) != opts.field_count:
        return _load(cls, opts, session, db, field_names, values, fetch_mode)
    pk = values[opts.pk_index]
    table = session.map.weak.get(opts.concrete)
    if table is None:
        table = session.map.weak_table(opts.concrete)
    ref = table.get(pk)
    if ref is not None:
        obj = ref()
        if obj is not None:
            return _hit(cls, opts, session, obj, db, field_names, values, fetch_mode)
    if session.map.views:  # a proxy view may outlive the row's instance (_live_view)
        return _load(cls, opts, session, db, field_names, values, fetch_mode)
    if plain_init(cls):
        new = cls.__new__(cls)
        state = new._state = MappedState(new, release)
        for attname, value in zip(opts.attname_list, values, strict=True):
            setattr(new, attname, value)
    else:
        new = cls(*values)
        state = new._state = MappedState(new, release)
    state.adding, state.db, state._rowsync_prefetched = False, db, False
    state._rowsync_epoch = journal.epoch
    # The remembered row (clean.remember_row) in the state's own attributes: keeping
    # Django's row list alive would cost one more tracked object per row.
    if len(values) > INLINE_MAX:
        state.rowsync_clean = values
    else:
        for name, value in zip(INLINE_NAMES, values, strict=False):
            setattr(state, name, value)
    if fetch_mode is not None:
        state.fetch_mode = fetch_mode  # type: ignore[attr-defined]  # Django >= 6.1
    table[pk] = state
    table.budget -= 1
    if table.budget <= 0:
        table.sweep()
    return new


def _hit(
    cls: type[Model],
    opts: IdentityOptions,
    session: Session,
    obj: Model,
    db: DbAlias,
    field_names: Sequence[str],
    values: Sequence[Any],
    fetch_mode: Any,
) -> Model:
    """Return the mapped ``obj`` for a full row read again (fast path), refreshed."""
    if obj.__class__ is not cls or obj._state.db != db:
        return _load(cls, opts, session, db, field_names, values, fetch_mode)
    refresh_row(opts, obj, values)
    if PREFETCHED in obj.__dict__:  # an earlier query's prefetch results
        drop_prefetched(obj)
    if fetch_mode is not None:  # Django >= 6.1: the last query's mode
        obj._state.fetch_mode = fetch_mode  # type: ignore[attr-defined]
    return obj


def _load(
    cls: type[Model],
    opts: IdentityOptions,
    session: Session,
    db: DbAlias,
    field_names: Sequence[str],
    values: Sequence[Any],
    fetch_mode: Any,
) -> Model:
    """Load a row in the general case (modes, strong/shared/multi-db models, partial rows)."""
    mode = session.mode
    if mode & BYPASS:
        return plain_from_db(cls, db, field_names, values, fetch_mode)
    full = len(values) == opts.field_count
    names: Sequence[str] = opts.attname_list if full else field_names
    try:
        if opts.composite:
            pk: object = tuple(values[names.index(a)] for a in opts.pk_attnames)
        else:
            pk = values[opts.pk_index] if full else values[names.index(opts.pk_attname)]
    except ValueError:  # the primary key is not among the loaded columns
        return plain_from_db(cls, db, field_names, values, fetch_mode)
    m = SHARED if opts.shared else session.map
    with m.lock if m.lock is not None else contextlib.nullcontext():
        obj = m.lookup(opts, pk, db)
        if obj is None and m.views:
            obj = _live_view(m, opts, pk, db)
            if obj is not None:
                m.store(opts, pk, db, obj)
        if obj is None:
            new = plain_from_db(cls, db, field_names, values, fetch_mode)
            remember_values(opts, new, names, values)
            m.store(opts, pk, db, new)
            return new
        if not opts.multi_db and obj._state.db != db:
            # A single-db model's row read from another database: never mix the two.
            return plain_from_db(cls, db, field_names, values, fetch_mode)
        if obj.__class__ is not cls:
            obj = view_of(m, opts, cls, obj, pk, db)
    merge_row(opts, obj, names, values, populate=bool(mode & POPULATE))
    if fetch_mode is not None:  # Django >= 6.1: the last query's mode
        obj._state.fetch_mode = fetch_mode  # type: ignore[attr-defined]
    return obj


def adopt(obj: Model) -> Model:
    """Return the mapped instance of the row a plain ``obj`` was built from.

    For rows that had to be built outside the map (a query with extra columns, such as
    Django's many-to-many prefetch): the mapped instance gets the row's values as a
    re-query would give them; with none mapped yet, ``obj`` itself is mapped.
    """
    opts = REGISTRY.get(type(obj))
    if opts is None:
        return obj
    d = obj.__dict__
    names = [a for a in opts.attname_list if a in d]
    values = [d[a] for a in names]
    session = _get_session() or scope.current_session()
    if session.mode & BYPASS:
        return obj
    m = SHARED if opts.shared else session.map
    pk = tuple(d.get(a) for a in opts.pk_attnames) if opts.composite else d.get(opts.pk_attname)
    db = obj._state.db
    with m.lock if m.lock is not None else contextlib.nullcontext():
        mapped = m.lookup(opts, pk, db)
        if mapped is None or mapped._state.db != db:
            if mapped is None:
                remember_values(opts, obj, names, values)
                m.store(opts, pk, db, obj)
            return obj
        if mapped.__class__ is not obj.__class__:
            mapped = view_of(m, opts, obj.__class__, mapped, pk, db)
    merge_row(opts, mapped, names, values, populate=bool(session.mode & POPULATE))
    return mapped


def merge_row(
    opts: IdentityOptions,
    obj: Model,
    names: Sequence[str],
    values: Sequence[Any],
    *,
    populate: bool,
) -> None:
    """Apply a row to a mapped instance: refresh its clean fields, or overwrite if ``populate``.

    Prefetch results an earlier query left on it are dropped (see :mod:`rowsync.identity.reread`).
    """
    if PREFETCHED in obj.__dict__:
        drop_prefetched(obj)
    if not populate:
        refresh(opts, obj, names, values)
        return
    remember_values(opts, obj, names, values)
    d = obj.__dict__
    fields = opts.attname_to_field
    for attname, value in zip(names, values, strict=True):
        old = d.get(attname, _MISSING)
        if old is value:
            continue
        d[attname] = value
        field = fields.get(attname)
        if field is not None and field.is_relation and old != value and field.is_cached(obj):
            drop_cached_relation(field, obj)


def view_of(
    m: IdentityMap,
    opts: IdentityOptions,
    cls: type[Model],
    obj: Model,
    pk: object,
    db: DbAlias | None,
) -> Model:
    """Return the ``cls`` view of a mapped instance of another class of its proxy family.

    A view is an instance of ``cls`` whose ``__dict__`` *is* the mapped instance's:
    both show and change the same state (fields, caches, ``_state``). Views are
    mapped too, so each class of the family has one instance per row.
    """
    vkey = (cls, opts.table_key(db), pk)
    ref = m.views.get(vkey)
    if ref is not None:
        view = ref()
        if view is not None and view.__dict__ is obj.__dict__:
            return view
    view = cls.__new__(cls)
    view.__dict__ = obj.__dict__
    m.views[vkey] = _ref(view)
    return view


def _live_view(
    m: IdentityMap, opts: IdentityOptions, pk: object, db: DbAlias | None
) -> Model | None:
    """Return a live view of the row when its mapped instance died but a view did not."""
    tkey = opts.table_key(db)
    for (_cls, vt, vpk), ref in list(m.views.items()):
        if vt == tkey and vpk == pk:
            view = ref()
            if view is not None:
                return view
    return None


@contextlib.contextmanager
def loading_mode(mode: int) -> Iterator[Session]:
    """Run a block with ``mode`` added to the current session's load mode."""
    session = scope.current_session()
    token = scope.set_session(session.derive(mode))
    try:
        yield session
    finally:
        scope.reset_session(token)


def iterate_in_mode(rows: Iterator[Model], mode: int) -> Iterator[Model]:
    """Yield from ``rows`` with ``mode`` in force only while each row is being built.

    Generators interleave (two querysets iterated in one loop), so the mode is set
    and reset around every ``next()``, never across a ``yield``.
    """
    while True:
        session = scope.current_session()
        token = scope.set_session(session.derive(mode))
        try:
            obj = next(rows)
        except StopIteration:
            return
        finally:
            scope.reset_session(token)
        yield obj


__all__ = [
    "BYPASS",
    "adopt",
    "NORMAL",
    "POPULATE",
    "from_db",
    "iterate_in_mode",
    "loading_mode",
    "merge_row",
    "plain_from_db",
    "view_of",
]
