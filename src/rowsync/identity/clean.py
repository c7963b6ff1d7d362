"""What each mapped instance last read from, or wrote to, its row: clean and dirty fields.

A mapped instance outlives the queries that return it, so a re-query must tell the
values the database gave it (*clean*: refreshed from the new row) from the values the
program set since (*dirty*: unsaved edits, kept). rowsync keeps, on the instance's
``_state``, the values of the last row read or written: ``_state.rowsync_clean`` is
the row's tuple in concrete-field order (a full row costs one attribute store) or a
``{attname: value}`` dict once only some fields were read or written.

A field is clean when its current value is the remembered one; a field without a
remembered value that the instance holds is dirty, a field the instance does not hold
is unloaded. Query expressions (``F("n") + 1`` left by ``save()``) are never kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db.models import Model

from rowsync.identity.journal import note
from rowsync.identity.keys import IdentityOptions
from rowsync.identity.reread import forget_reverse_one_to_one
from rowsync.identity.state import (
    INLINE_END,
    INLINE_MAX,
    INLINE_NAMES,
    INLINE_READERS,
    MappedState,
)

_MISSING = object()


def _remembered(opts: IdentityOptions, obj: Model) -> dict[str, Any]:
    """Return (creating it) the ``{attname: value}`` form of ``obj``'s remembered row."""
    note(obj)  # the caller changes the row (copy on write for an open savepoint)
    state: Any = obj._state
    row = getattr(state, "rowsync_clean", None)
    if type(row) is dict:
        return row
    clean: dict[str, Any] = {} if row is None else dict(zip(opts.attname_list, row, strict=True))
    state.rowsync_clean = clean
    return clean


def remember_row(obj: Model, values: Sequence[Any]) -> None:
    """Remember a full row (concrete-field order) just read into ``obj``.

    Django hands ``from_db`` a fresh slice of the row: it is kept as it is, not copied.
    """
    note(obj)
    obj._state.rowsync_clean = values  # type: ignore[attr-defined]


def remember_values(
    opts: IdentityOptions, obj: Model, names: Sequence[str], values: Sequence[Any]
) -> None:
    """Remember the values of ``names`` just read into ``obj`` (a partial row)."""
    if len(names) == opts.field_count:  # a full row is in concrete-field order
        remember_row(obj, values)
        return
    _remembered(opts, obj).update(zip(names, values, strict=True))


def remember_current(opts: IdentityOptions, obj: Model, attnames: Iterable[str]) -> None:
    """Remember ``obj``'s current values of ``attnames`` as the row's (after a write or a read)."""
    clean = _remembered(opts, obj)
    d = obj.__dict__
    for attname in attnames:
        value = d.get(attname, _MISSING)
        if value is _MISSING or hasattr(value, "resolve_expression"):
            clean.pop(attname, None)
        else:
            clean[attname] = value


def is_clean(value: Any, remembered: Any) -> bool:
    """Return whether a held ``value`` is what the row gave (or an expression to replace)."""
    if value is remembered:
        return True
    if hasattr(value, "resolve_expression"):
        return True
    if remembered is _MISSING:
        return False
    try:
        return bool(value == remembered) and type(value) is type(remembered)
    except Exception:  # a value whose __eq__ fails cannot be shown to be clean
        return False


def clean_value(opts: IdentityOptions, obj: Model, attname: str) -> Any:
    """Return the remembered value of ``attname`` (``_MISSING`` if none)."""
    row = getattr(obj._state, "rowsync_clean", None)
    if row is None:
        return _MISSING
    if type(row) is dict:
        return row.get(attname, _MISSING)
    return row[opts.attname_list.index(attname)]


def remembered_pk(opts: IdentityOptions, obj: Model) -> object:
    """Return the pk of the row ``obj`` last read or wrote (None if it never did)."""
    values = [clean_value(opts, obj, attname) for attname in opts.pk_attnames]
    if any(value is _MISSING for value in values):
        return None
    return tuple(values) if opts.composite else values[0]


def refresh(
    opts: IdentityOptions, obj: Model, names: Sequence[str], values: Sequence[Any]
) -> None:
    """Apply a row read again to a mapped instance: fill and refresh clean fields, keep edits.

    Foreign-key caches whose value changed are dropped.
    """
    row = getattr(obj._state, "rowsync_clean", None)
    full = len(names) == opts.field_count
    if full and row is not None and type(row) is not dict:
        olds: Iterable[Any] = row
    else:
        olds = [_MISSING] * len(names) if row is None else _olds(opts, row, names)
    _apply(opts, obj, names, values, olds)
    if full:
        remember_row(obj, values)
    else:
        remember_values(opts, obj, names, values)


def refresh_row(opts: IdentityOptions, obj: Model, values: Sequence[Any]) -> None:
    """:func:`refresh` for a full row (concrete-field order), the loader's warm path.

    When the state keeps the remembered row in its own attributes (what the loader
    stores, :class:`~rowsync.identity.state.MappedState`), they are read in one call
    and only the values the row changed are written back there: no row list is kept
    alive (one more GC-tracked object per row re-read, which brought full collections
    forward). A field whose row value did not change (equal, same type) is only filled
    when unloaded: a held value is then either still clean or an edit, as
    :func:`refresh` would find.
    """
    state: Any = obj._state
    n = len(values)
    if type(state) is not MappedState or state._rowsync_held is not INLINE_END or n > INLINE_MAX:
        refresh(opts, obj, opts.attname_list, values)
        return
    d = obj.__dict__
    row = zip(opts.attname_list, INLINE_NAMES, values, INLINE_READERS[n](state))  # noqa: B905
    for attname, name, new, old in row:
        if new is old or _same(new, old):
            if attname not in d:
                d[attname] = new
            continue
        _apply(opts, obj, (attname,), (new,), (old,))
        note(obj)
        setattr(state, name, new)


def _same(new: Any, old: Any) -> bool:
    """Return whether a row value read again equals the remembered one (and its type)."""
    try:
        return type(new) is type(old) and bool(new == old)
    except Exception:  # a value whose __eq__ fails: treat it as changed
        return False


def _apply(
    opts: IdentityOptions,
    obj: Model,
    names: Sequence[str],
    values: Sequence[Any],
    olds: Iterable[Any],
) -> None:
    """Set the row's ``values`` of ``names`` on ``obj`` where a field is unloaded or clean."""
    d = obj.__dict__
    fields = opts.attname_to_field
    for attname, new, old in zip(names, values, olds):  # noqa: B905  (no keyword: per row)
        current = d.get(attname, _MISSING)
        if current is new:
            continue
        if current is _MISSING:
            d[attname] = new
        elif is_clean(current, old) and (current != new or type(current) is not type(new)):
            d[attname] = new
            field = fields.get(attname)
            if field is not None and field.is_relation and field.is_cached(obj):
                drop_cached_relation(field, obj)


def _olds(opts: IdentityOptions, row: Any, names: Sequence[str]) -> list[Any]:
    if type(row) is dict:
        return [row.get(n, _MISSING) for n in names]
    index = opts.attname_list.index
    return [row[index(n)] for n in names]


def expire_clean(opts: IdentityOptions, obj: Model, attnames: Iterable[str]) -> None:
    """Unload the clean ``attnames`` of ``obj`` (their row changed); keep unsaved edits.

    The next access, or the next query that reads the row, loads them. Foreign-key
    caches of the unloaded fields are dropped.
    """
    d = obj.__dict__
    # An instance that never read nor wrote its row (cache_instance()) has no edits to tell.
    clean = None if getattr(obj._state, "rowsync_clean", None) is None else _remembered(opts, obj)
    fields = opts.attname_to_field
    expired: set[str] | None = None
    for attname in attnames:
        current = d.get(attname, _MISSING)
        if current is _MISSING:
            continue
        if clean is not None and not is_clean(current, clean.pop(attname, _MISSING)):
            continue  # an unsaved edit: kept (and dirty against the new row)
        del d[attname]
        if expired is None:
            expired = expired_attnames(obj)
        expired.add(attname)
        field = fields[attname]
        if field.is_relation and field.is_cached(obj):
            drop_cached_relation(field, obj)


def drop_cached_relation(field: Any, obj: Model) -> None:
    """Drop the related object ``field`` caches on ``obj`` (its value changed).

    A one-to-one's related instance also forgets ``obj`` as its reverse one-to-one.
    """
    forget_reverse_one_to_one(field, obj)
    field.delete_cached_value(obj)


def expired_attnames(obj: Model) -> set[str]:
    """Return (creating it) the set of attnames rowsync unloaded from ``obj`` (expired).

    A name stays in the set after the field is loaded again: only the names that
    ``obj`` does not hold are expired, the others are loaded. Fields a query deferred
    (``only()``/``defer()``) are never in it.
    """
    state: Any = obj._state
    expired: set[str] | None = getattr(state, "rowsync_expired", None)
    if expired is None:
        expired = state.rowsync_expired = set()
    return expired


def unloaded_expired(obj: Model) -> list[str]:
    """Return the expired attnames ``obj`` does not hold (see :func:`expired_attnames`)."""
    expired: set[str] | None = getattr(obj._state, "rowsync_expired", None)
    if not expired:
        return []
    d = obj.__dict__
    return [attname for attname in expired if attname not in d]


def restore_clean(opts: IdentityOptions, obj: Model, row: Any) -> None:
    """Give ``obj`` back the row it remembered earlier (``row``: a tuple, a dict or None).

    After a rollback to a savepoint, the rows are what they were when the savepoint was
    taken: the values ``obj`` had read by then are true again. Its clean fields take
    them back (or are unloaded when it had not read them); unsaved edits are kept.
    """
    if row is None:
        then: dict[str, Any] = {}
    elif type(row) is dict:
        then = row
    else:
        then = dict(zip(opts.attname_list, row, strict=True))
    clean = None if getattr(obj._state, "rowsync_clean", None) is None else _remembered(opts, obj)
    d = obj.__dict__
    fields = opts.attname_to_field
    for attname in opts.attname_list:
        if attname in opts.pk_attnames:
            continue
        current = d.get(attname, _MISSING)
        if current is not _MISSING and (
            clean is None or not is_clean(current, clean.get(attname, _MISSING))
        ):
            continue  # an unsaved edit (or an instance that never read its row): kept
        old = then.get(attname, _MISSING)
        field = fields[attname]
        if old is _MISSING:
            if current is _MISSING:
                continue
            del d[attname]
            expired_attnames(obj).add(attname)
            if clean is not None:
                clean.pop(attname, None)
        else:
            d[attname] = old
            if clean is not None:
                clean[attname] = old
        if field.is_relation and field.is_cached(obj) and (old is _MISSING or current != old):
            drop_cached_relation(field, obj)
