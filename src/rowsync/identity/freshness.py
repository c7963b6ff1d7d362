"""Keep mapped instances in step with writes that bypass them.

What each write does to the map (of the current context, and the shared map):

* ``save()``: a new row's instance is mapped and remembers what it wrote; if
  *another* instance is mapped for the row (same database), the written fields are
  expired on it. MTI parents and children of the row that are mapped expire the
  fields they share.
* ``QuerySet.update(**values)``: the updated fields are **expired** on the mapped
  instances of the rows it writes (and of their MTI family), found by
  :func:`rows_to_expire` before the update runs; other rows are left alone.
* ``bulk_update(objs, fields)``: the other mapped instance of each row expires the
  written fields.
* ``bulk_create(objs)``: created objects with a primary key are mapped; with
  ``update_conflicts=True`` the ``update_fields`` of the upserted rows are expired.

*Expired* means unloaded, and only clean fields are: unsaved edits are kept (see
:mod:`rowsync.identity.clean`). The next access, or the next load of the row, reads
the database, so a rolled-back write never stays in an instance.
* ``delete()`` (instance, queryset, cascades collected by Django): deleted rows are
  **evicted** by the delete queries' hooks (:func:`after_delete`), so mapped models
  keep Django's fast-delete path (no ``post_delete`` receiver is connected).
* :func:`discard_row` / :func:`update_row`: called by rowsync's events for rows the
  database deleted or changed itself (``ON DELETE CASCADE`` / ``SET NULL``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model, QuerySet

from rowsync._typing import DbAlias
from rowsync.identity import dbactions, scope
from rowsync.identity.clean import (
    drop_cached_relation,
    expire_clean,
    remember_current,
    remembered_pk,
)
from rowsync.identity.keys import REGISTRY, IdentityOptions, mapped_family, normalise_pk, pk_of
from rowsync.identity.map import IdentityMap
from rowsync.identity.queryset import literal_pks

#: Set while ``bulk_update`` runs: its inner ``update()`` must not expire the objects.
_IN_BULK_UPDATE: ContextVar[bool] = ContextVar("rowsync_in_bulk_update", default=False)


def _maps() -> list[IdentityMap]:
    return scope.maps_for_flush()


def _map_for(opts: IdentityOptions, m: IdentityMap) -> bool:
    """Return whether map ``m`` can hold rows of ``opts`` (shared models live in SHARED)."""
    return (m is scope.SHARED) == opts.shared


def held_pks(model: type[Model], db: DbAlias) -> set[object]:
    """Return the pks of the rows of ``model``'s MTI family mapped for database ``db``."""
    pks: set[object] = set()
    for concrete in mapped_family(model):
        opts = REGISTRY[concrete]
        for m in _maps():
            if _map_for(opts, m):
                pks.update(
                    pk_of(opts, obj) for obj in m.instances(concrete) if obj._state.db == db
                )
    return pks


def expire(
    model: type[Model], attnames: Iterable[str], pks: Iterable[object], db: DbAlias | None
) -> None:
    """Unload the clean ``attnames`` of the mapped rows ``pks`` of ``model``'s MTI family.

    The next attribute access loads the value (``refresh_from_db(fields=...)``) and
    the next load of the row fills it in. Unsaved edits are kept (see ``clean``).
    """
    names = set(attnames)
    keys = list(pks)
    for concrete in mapped_family(model):
        opts = REGISTRY[concrete]
        own = names & opts.attnames
        own.difference_update(opts.pk_attnames)
        if not own:
            continue
        for m in _maps():
            if not _map_for(opts, m):
                continue
            for pk in keys:
                obj = m.lookup(opts, normalise_pk(opts, pk), db)
                if obj is not None and obj._state.db == db:
                    expire_clean(opts, obj, own)


def expire_others(source: Model, attnames: Iterable[str] | None = None) -> None:
    """Unload, in the other mapped instances of ``source``'s row (and MTI family), what it wrote.

    They read the database the next time they are used, so a rolled-back write never
    stays in them; their unsaved edits are kept.
    """
    source_opts = REGISTRY.get(type(source))
    if source_opts is None:
        return
    pk = source.pk
    db = source._state.db
    wanted = source_opts.attnames if attnames is None else set(attnames)
    src = source.__dict__
    for concrete in mapped_family(type(source)):
        opts = REGISTRY[concrete]
        own = (wanted & opts.attnames).difference(opts.pk_attnames)
        for m in _maps():
            if not _map_for(opts, m):
                continue
            target = m.lookup(opts, normalise_pk(opts, pk), db)
            if target is None or target is source or target.__dict__ is src:
                continue
            if target._state.db != db:  # the same pk in another database is another row
                continue
            expire_clean(opts, target, own)


def was_read(obj: Model, fields: Iterable[str] | None) -> None:
    """Record that ``refresh_from_db(fields=fields)`` read ``obj``'s values from its row."""
    opts = REGISTRY.get(type(obj))
    if opts is None:
        return
    if fields is None:
        attnames: Iterable[str] = opts.attnames
    else:
        attnames = _column_attnames(obj, fields)
    remember_current(opts, obj, attnames)


def _column_attnames(obj: Model, names: Iterable[str]) -> set[str]:
    """Return the attnames of the concrete fields among ``refresh_from_db(fields=)``'s names.

    Django also accepts names without a column there: a reverse one-to-one accessor
    (its cached object is cleared) and a prefetch cache name such as ``book_set``
    (that prefetch result is dropped). They read no value of the row: skipped.
    """
    opts = REGISTRY[type(obj)]
    meta = obj._meta
    attnames = set()
    for name in names:
        try:
            field = meta.get_field(name)
        except FieldDoesNotExist:
            continue
        attname = getattr(field, "attname", None)
        if attname in opts.attnames:
            attnames.add(attname)
    return attnames


def wrote(obj: Model, attnames: Iterable[str] | None = None) -> None:
    """Record that ``obj`` wrote ``attnames`` (all its fields if None) to its row."""
    opts = REGISTRY.get(type(obj))
    if opts is not None:
        remember_current(opts, obj, opts.attnames if attnames is None else attnames)
        expire_others(obj, attnames)


def register(obj: Model) -> None:
    """Map ``obj`` if its row has no live instance yet."""
    opts = REGISTRY.get(type(obj))
    if opts is None:
        return
    pk = pk_of(opts, obj)
    if pk is None or (opts.composite and None in pk):  # type: ignore[operator]
        return
    db = obj._state.db
    m = scope.map_for(opts)
    if m.lookup(opts, pk, db) is None:
        m.store(opts, pk, db, obj)


# -- save() (Model._save_table's hook, before post_save is sent) --------------------
def after_save(
    sender: type[Model],
    instance: Model,
    update_fields: Iterable[str] | None = None,
    raw: bool = False,
) -> None:
    """Map a saved instance; expire its saved values in other mapped copies of the row."""
    attnames: set[str] | None = None
    meta = instance._meta
    if update_fields is not None:
        attnames = {meta.get_field(name).attname for name in update_fields}  # type: ignore[union-attr]
    if raw and meta.parents:
        # loaddata's raw save writes the child's own table only: the parent fields the
        # instance holds are defaults, not the row's. Never map it.
        expire_others(instance, {f.attname for f in meta.local_concrete_fields})
        return
    opts = REGISTRY.get(sender)
    if opts is not None:
        unmap_moved(opts, instance)
        if attnames is not None:
            # Whatever fields it wrote, the instance now is the row of its current pk.
            attnames.update(opts.pk_attnames)
    wrote(instance, attnames)
    register(instance)


def unmap_moved(opts: IdentityOptions, obj: Model) -> None:
    """Unmap ``obj`` from the row it was read from when it was saved under another pk.

    ``obj.pk = new; obj.save()`` writes row ``new`` (an UPDATE, or an INSERT when the
    row does not exist); the row ``obj`` was read from stays as it was, and must no
    longer be answered by ``obj``: its next load builds its own instance.
    """
    row_pk = remembered_pk(opts, obj)
    if row_pk is None or row_pk == pk_of(opts, obj):
        return
    db = obj._state.db
    for m in _maps():
        if _map_for(opts, m):
            mapped = m.lookup(opts, row_pk, db)
            if mapped is not None and mapped.__dict__ is obj.__dict__:
                m.remove(opts, row_pk, db)


def after_delete(model: type[Model], pks: Iterable[object], using: DbAlias) -> None:
    """Evict the rows ``pks`` of ``model`` that a delete query removed.

    Mapped rows the database changes in turn (``DB_*`` foreign keys into ``model``)
    are brought in step too (:mod:`rowsync.identity.dbactions`).
    """
    pks = list(pks)
    if model in REGISTRY:
        for pk in pks:
            discard_row(model, pk, using)
    dbactions.after_parent_delete(model, pks, using)


# -- queryset writes --------------------------------------------------------------
def mapped_rows(qs: QuerySet[Any], db: DbAlias) -> set[object] | None:
    """Return the pks of the rows mapped for ``db`` that a write of ``qs`` reaches (None: none).

    Only the current context's map and the shared map are searched. Beyond
    :func:`named_rows`, one ``SELECT`` of the matching pks, only when rows are mapped.
    """
    held = held_pks(qs.model, db)
    if not held:
        return None
    named = named_rows(qs, held)
    if named is None:
        named = held & set(qs.using(db).order_by().values_list("pk", flat=True))
    return named


def named_rows(qs: QuerySet[Any], held: set[object]) -> set[object] | None:
    """Return which of the ``held`` pks ``qs`` reaches, None if only SQL can tell.

    Every one when ``qs`` is unfiltered, those named by a filter on literal pks.
    """
    if not qs.query.where.children:
        return held
    literal = literal_pks(qs)
    return None if literal is None else held & literal


def rows_to_expire(qs: QuerySet[Any]) -> set[object] | None:
    """Return the pks of mapped rows an ``update()`` of ``qs`` is about to write (None: none)."""
    if _IN_BULK_UPDATE.get():
        return None
    return mapped_rows(qs, qs.db)


def after_update(
    model: type[Model], values: Mapping[str, Any], pks: Iterable[object], db: DbAlias
) -> None:
    """Expire the fields a ``QuerySet.update(**values)`` wrote on the rows ``pks``."""
    if model not in REGISTRY:
        return
    meta = model._meta
    attnames = set()
    for name in values:
        try:
            attnames.add(meta.get_field(name).attname)  # type: ignore[union-attr]
        except Exception:  # Django has already validated the names
            continue
    expire(model, attnames, pks, db)


def bulk_update_guard() -> Any:
    """Return the token that marks a running ``bulk_update`` (reset it afterwards)."""
    return _IN_BULK_UPDATE.set(True)


def bulk_update_done(token: Any) -> None:
    """End the ``bulk_update`` that :func:`bulk_update_guard` marked (written or failed)."""
    _IN_BULK_UPDATE.reset(token)


def after_bulk_update(objs: Iterable[Model], fields: Iterable[str]) -> None:
    """After a ``bulk_update`` that succeeded: the objects wrote ``fields`` to their rows."""
    objs = list(objs)
    if not objs or type(objs[0]) not in REGISTRY:
        return
    meta = objs[0]._meta
    attnames = {meta.get_field(name).attname for name in fields}  # type: ignore[union-attr]
    for obj in objs:
        wrote(obj, attnames)


def after_bulk_create(
    model: type[Model],
    objs: Iterable[Model],
    *,
    ignore_conflicts: bool = False,
    update_conflicts: bool = False,
    update_fields: Iterable[str] | None = None,
) -> None:
    """Map the created objects; expire upserted fields."""
    if model not in REGISTRY:
        return
    if update_conflicts and update_fields:
        written = {model._meta.get_field(n).attname for n in update_fields}  # type: ignore[union-attr]
        objs = list(objs)
        db = objs[0]._state.db if objs else None
        if db is not None:
            # A conflict may be on another unique field: then the pk may be unknown.
            pks = [obj.pk for obj in objs]
            expire(model, written, held_pks(model, db) if None in pks else pks, db)
    if ignore_conflicts or update_conflicts:
        return  # a conflicting row kept its own instance; the object may not be that row
    for obj in objs:
        register(obj)


# -- public API used by rowsync.events / rowsync.ondelete -------------------------
def discard_row(model: type[Model], pk: object, using: DbAlias | None) -> None:
    """Evict the row ``pk`` of ``model`` that the database deleted.

    Every live map of the process is cleaned (eviction never changes an object
    another request is using). No-op when the model is not mapped or the row absent.

    Args:
        model: The model (concrete or proxy) of the deleted row.
        pk: Its primary-key value (a tuple for composite keys).
        using: The database alias the row was deleted from.
    """
    opts = REGISTRY.get(model)
    if opts is None:
        return
    key = normalise_pk(opts, pk)
    for concrete in mapped_family(model):
        family_opts = REGISTRY[concrete]
        for m in [scope.SHARED, *scope.live_maps()]:
            m.remove(family_opts, key, using)


def update_row(
    model: type[Model], pk: object, using: DbAlias | None, values: Mapping[str, object]
) -> None:
    """Apply column values the database changed (e.g. ``SET NULL``) to the mapped row.

    The current context's map and the shared map get the values (foreign-key
    caches that no longer match are dropped); other contexts' maps evict the row.
    No-op when the model is not mapped or the row absent.

    Args:
        model: The model (concrete or proxy) of the changed row.
        pk: Its primary-key value.
        using: The database alias.
        values: ``{field name or attname: new value}``.
    """
    opts = REGISTRY.get(model)
    if opts is None:
        return
    key = normalise_pk(opts, pk)
    meta = model._meta
    attvalues = {meta.get_field(n).attname: v for n, v in values.items()}  # type: ignore[union-attr]
    current = scope.maps_for_flush()
    for concrete in mapped_family(model):
        family_opts = REGISTRY[concrete]
        for m in current:
            obj = m.lookup(family_opts, key, using)
            if obj is None or obj._state.db != using:
                continue
            d = obj.__dict__
            for attname, value in attvalues.items():
                if attname not in family_opts.attnames:
                    continue
                d[attname] = value
                field = family_opts.attname_to_field[attname]
                if field.is_relation and field.is_cached(obj):
                    drop_cached_relation(field, obj)
            remember_current(family_opts, obj, family_opts.attnames.intersection(attvalues))
        for m in scope.live_maps():
            if m not in current:
                m.remove(family_opts, key, using)
