"""The Django hooks of the identity map, installed by ``setup()`` when a model is mapped.

Each patch keeps Django's behaviour for unmapped models (one dict lookup decides)
and is installed once, through rowsync's one registry (:mod:`rowsync._patch`, feature
``identity``; listed by ``rowsync.patches_applied()``). Nothing is patched at import
time or when no model is mapped.

========================================  =====================================================
Hook                                      Why
========================================  =====================================================
``Model.from_db``                         every row becomes the mapped instance
``Model.refresh_from_db``                 reload from SQL, never from the map
``QuerySet.get``                          SQL-free ``get(pk)`` when correct
``Manager.get``                           the same, before a QuerySet is even built
``ModelIterable.__iter__``                per-query load mode (annotations, populate)
``QuerySet.update`` etc.                  freshness after writes that bypass instances
``UpdateQuery.update_batch``              the same for the Collector's SET_DEFAULT / SET()
``Model._save_table``                     map saved rows (no post_save receiver)
``DeleteQuery.delete_batch``              evict deleted rows (no post_delete receiver:
``QuerySet._raw_delete``                  mapped models keep Django's fast delete)
``Collector.collect``                     collected rows are the Collector's own instances
``query.prefetch_related_objects``        prefetch results stay per query
``QuerySet._prefetch_related_objects``    ... reusing the query's own select_related
``ASGIHandler.handle``                    each ASGI request's map (5.2 loses request_started's)
``BaseDatabaseWrapper.rollback``          forget what a rolled-back block did
``BaseDatabaseWrapper.savepoint``         note what was read before a savepoint
``BaseDatabaseWrapper.savepoint_commit``  ... and forget it when it is released
========================================  =====================================================
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from django.core.handlers.asgi import ASGIHandler
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Manager, Model, QuerySet
from django.db.models import query as query_module
from django.db.models.deletion import Collector
from django.db.models.fields.related_descriptors import ForwardOneToOneDescriptor
from django.db.models.query import ModelIterable
from django.db.models.sql import DeleteQuery, UpdateQuery

from rowsync import _patch
from rowsync.identity import dbactions, fastdelete, freshness, loading, prefetch, transactions
from rowsync.identity.clean import remembered_pk, unloaded_expired
from rowsync.identity.keys import REGISTRY, IdentityOptions, pk_of
from rowsync.identity.queryset import get_from_map, manager_get
from rowsync.identity.scope import BYPASS, POPULATE, map_for, start_request

_F = TypeVar("_F", bound=Callable[..., Any])
_installed = False


def _wrap(owner: Any, name: str, make: Callable[[Any], Any]) -> None:
    _patch.apply(owner, name, make, feature="identity")


def _mark(func: _F, original: object) -> _F:
    # The registry marks the replacement; this keeps Django's docstring on it.
    func.__doc__ = getattr(original, "__doc__", None)
    return func


def _from_db(original: Any) -> Any:
    return classmethod(_mark(loading.from_db, original))


def _refresh_from_db(original: Callable[..., Any]) -> Callable[..., Any]:
    def refresh_from_db(self: Model, *args: Any, **kwargs: Any) -> None:
        opts = REGISTRY.get(type(self))
        if opts is None:
            original(self, *args, **kwargs)
            return
        with (
            loading.loading_mode(BYPASS),
            _at_row_read(opts, self, args, kwargs),
            _expired_as_loaded(self, args, kwargs),
        ):
            original(self, *args, **kwargs)
        freshness.was_read(self, _refreshed_fields(args, kwargs))
        freshness.register(self)

    return _mark(refresh_from_db, original)


@contextlib.contextmanager
def _at_row_read(
    opts: IdentityOptions, obj: Model, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Iterator[None]:
    """Point ``obj`` at the row it was read from while some of its fields are loaded.

    Expired fields (a write elsewhere, a rollback) are values of the row the instance
    was read from. When its pk has been reassigned since (``obj.pk = new`` before a
    ``save()`` that inserts row ``new``), loading them must read that row, not the new
    pk, which may not exist yet: Django's own ``save()`` loads deferred fields that way.
    Only for ``fields=`` loads: a full refresh reads the row of the current pk.
    """
    row_pk = remembered_pk(opts, obj) if _refreshed_fields(args, kwargs) is not None else None
    if row_pk is None or row_pk == pk_of(opts, obj) or opts.composite:
        yield
        return
    d = obj.__dict__
    moved_pk = d[opts.pk_attname]
    pk_field = opts.attname_to_field[opts.pk_attname]
    related = (
        pk_field.get_cached_value(obj)
        if pk_field.is_relation and pk_field.is_cached(obj)
        else _NONE
    )
    d[opts.pk_attname] = row_pk
    try:
        yield
    finally:
        d[opts.pk_attname] = moved_pk
        if related is not _NONE:
            pk_field.set_cached_value(obj, related)


_NONE = object()


@contextlib.contextmanager
def _expired_as_loaded(
    obj: Model, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Iterator[None]:
    """Make a full ``refresh_from_db()`` read the fields rowsync expired, in its one query.

    Django's full refresh reloads the fields the instance holds and leaves deferred ones
    deferred. A field a write expired was loaded before, as in Django, where it would be
    refreshed: it is marked held (a placeholder Django overwrites with the row's value)
    for the refresh. Fields a query deferred stay deferred; if the refresh fails, the
    placeholders are removed (the fields stay expired).
    """
    names = unloaded_expired(obj) if _refreshed_fields(args, kwargs) is None else []
    if not names:
        yield
        return
    d = obj.__dict__
    for attname in names:
        d[attname] = _PLACEHOLDER
    try:
        yield
    finally:
        for attname in names:
            if d.get(attname) is _PLACEHOLDER:
                del d[attname]


_PLACEHOLDER = object()


def _refreshed_fields(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Iterable[str] | None:
    """Return ``refresh_from_db(using=None, fields=None, ...)``'s ``fields`` argument."""
    return kwargs["fields"] if "fields" in kwargs else (args[1] if len(args) > 1 else None)


def _get(original: Callable[..., Any]) -> Callable[..., Any]:
    def get(self: QuerySet[Any], *args: Any, **kwargs: Any) -> Any:
        obj = get_from_map(self, args, kwargs)
        if obj is not None:
            return obj
        return original(self, *args, **kwargs)

    return _mark(get, original)


def _manager_get(original: Callable[..., Any]) -> Callable[..., Any]:
    return _mark(manager_get(original), original)


def _model_iterable_iter(original: Callable[..., Any]) -> Callable[..., Any]:
    def __iter__(self: ModelIterable[Any]) -> Any:
        qs = self.queryset
        if qs.model not in REGISTRY:
            return original(self)
        query = qs.query
        if query.annotation_select or query.extra_select:
            # Annotation values belong to the query, not to the row: such rows are
            # built as plain, unmapped instances (see docs/identity.md).
            return loading.iterate_in_mode(original(self), BYPASS)
        if query.select_for_update or getattr(query, "rowsync_populate", False):
            return loading.iterate_in_mode(original(self), POPULATE)
        return original(self)

    return _mark(__iter__, original)


def _update(original: Callable[..., Any]) -> Callable[..., Any]:
    def update(self: QuerySet[Any], **kwargs: Any) -> Any:
        if self.model not in REGISTRY:
            return original(self, **kwargs)
        touched = freshness.rows_to_expire(self)
        rows = original(self, **kwargs)
        if touched:
            freshness.after_update(self.model, kwargs, touched, self.db)
        return rows

    return _mark(update, original)


def _update_batch(original: Callable[..., Any]) -> Callable[..., Any]:
    # Django's Collector writes SET_DEFAULT / SET(callable) rows with this, not update().
    def update_batch(self: UpdateQuery, pk_list: list[Any], values: Any, using: str) -> Any:
        result = original(self, pk_list, values, using)
        if self.model in REGISTRY:
            freshness.after_update(self.model, values, pk_list, using)
        return result

    return _mark(update_batch, original)


def _save_table(original: Callable[..., Any]) -> Callable[..., Any]:
    # save() writes each table of the row here: the last call (the model's own table)
    # maps the instance, before post_save is sent, so the project's receivers see it
    # mapped and rowsync connects no receiver of its own.
    def save_table(
        self: Model,
        raw: bool = False,
        cls: Any = None,
        force_insert: Any = False,
        force_update: bool = False,
        using: str | None = None,
        update_fields: Any = None,
    ) -> Any:
        updated = original(self, raw, cls, force_insert, force_update, using, update_fields)
        origin = type(self)
        if origin in REGISTRY and (cls is None or cls is origin._meta.concrete_model):
            self._state.db = using  # what save_base() sets next
            freshness.after_save(origin, self, update_fields=update_fields, raw=raw)
        return updated

    return _mark(save_table, original)


def _delete_batch(original: Callable[..., Any]) -> Callable[..., Any]:
    # The Collector deletes the rows it collected (and a lone instance) with this.
    def delete_batch(self: DeleteQuery, pk_list: list[Any], using: str) -> Any:
        result = original(self, pk_list, using)
        model = self.model
        if model is not None and (model in REGISTRY or dbactions.incoming(model)):
            freshness.after_delete(model, pk_list, using)
        return result

    return _mark(delete_batch, original)


def _raw_delete(original: Callable[..., Any]) -> Callable[..., Any]:
    # The Collector's fast deletes: one DELETE per queryset, no signals.
    def raw_delete(self: QuerySet[Any], using: str) -> Any:
        if self.model not in REGISTRY and not dbactions.incoming(self.model):
            return original(self, using)
        return fastdelete.fast_delete(self, using, original)

    raw_delete.alters_data = True  # type: ignore[attr-defined]
    return _mark(raw_delete, original)


def _collect(original: Callable[..., Any]) -> Callable[..., Any]:
    # The rows a delete collects (a queryset's, a cascade's) are read into instances of
    # the Collector's own, as in Django: it sets their pk to None after deleting them.
    # The mapped instances the program holds keep their pk and leave the map when the
    # DELETE runs (delete_batch above).
    def collect(self: Collector, objs: Any, *args: Any, **kwargs: Any) -> Any:
        if not REGISTRY:
            return original(self, objs, *args, **kwargs)
        with loading.loading_mode(BYPASS):
            return original(self, objs, *args, **kwargs)

    return _mark(collect, original)


def _asgi_handle(original: Callable[..., Any]) -> Callable[..., Any]:
    # Django 5.2's request_started.asend() runs receivers in tasks of their own, whose
    # context changes are lost: the request's map is set here, in the request's context.
    async def handle(self: Any, scope: Any, receive: Any, send: Any) -> Any:
        start_request()
        return await original(self, scope, receive, send)

    return _mark(handle, original)


def _bulk_update(original: Callable[..., Any]) -> Callable[..., Any]:
    def bulk_update(
        self: QuerySet[Any], objs: Iterable[Model], fields: Iterable[str], *args: Any, **kw: Any
    ) -> Any:
        if self.model not in REGISTRY:
            return original(self, objs, fields, *args, **kw)
        objs = list(objs)
        fields = list(fields)
        token = freshness.bulk_update_guard()
        try:
            rows = original(self, objs, fields, *args, **kw)
        finally:
            freshness.bulk_update_done(token)
        # Only after Django accepted the fields: its own errors (ValueError) come first.
        freshness.after_bulk_update(objs, fields)
        return rows

    return _mark(bulk_update, original)


def _bulk_create(original: Callable[..., Any]) -> Callable[..., Any]:
    def bulk_create(self: QuerySet[Any], objs: Iterable[Model], *args: Any, **kw: Any) -> Any:
        if self.model not in REGISTRY:
            return original(self, objs, *args, **kw)
        created = original(self, objs, *args, **kw)
        names = ("batch_size", "ignore_conflicts", "update_conflicts", "update_fields")
        options = dict(zip(names, args, strict=False)) | kw
        freshness.after_bulk_create(
            self.model,
            created,
            ignore_conflicts=bool(options.get("ignore_conflicts")),
            update_conflicts=bool(options.get("update_conflicts")),
            update_fields=options.get("update_fields"),
        )
        return created

    return _mark(bulk_create, original)


def _parent_link_get_object(original: Callable[..., Any]) -> Callable[..., Any]:
    def get_object(self: ForwardOneToOneDescriptor[Any], instance: Model) -> Any:
        field: Any = self.field
        rel_model = field.remote_field.model
        opts = REGISTRY.get(rel_model)
        if opts is None or not field.remote_field.parent_link or instance._state.adding:
            return original(self, instance)
        # Django builds the MTI parent from the child's values; use the mapped parent.
        pk = getattr(instance, field.attname)
        m = map_for(opts)
        mapped = m.lookup(opts, pk, instance._state.db)
        if mapped is not None and mapped._state.db == instance._state.db:
            return mapped
        obj = original(self, instance)
        freshness.register(obj)
        return obj

    return _mark(get_object, original)


def install() -> None:
    """Install every hook once (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    _wrap(Model, "from_db", _from_db)
    _wrap(Model, "refresh_from_db", _refresh_from_db)
    _wrap(QuerySet, "get", _get)
    # Manager's get() is generated from QuerySet's on a base class of Manager.
    _wrap(next(c for c in Manager.__mro__ if "get" in c.__dict__), "get", _manager_get)
    _wrap(QuerySet, "update", _update)
    _wrap(UpdateQuery, "update_batch", _update_batch)
    _wrap(Model, "_save_table", _save_table)
    _wrap(DeleteQuery, "delete_batch", _delete_batch)
    _wrap(Collector, "collect", _collect)
    _wrap(QuerySet, "_raw_delete", _raw_delete)
    _wrap(QuerySet, "bulk_update", _bulk_update)
    _wrap(QuerySet, "bulk_create", _bulk_create)
    _wrap(ModelIterable, "__iter__", _model_iterable_iter)
    _wrap(ForwardOneToOneDescriptor, "get_object", _parent_link_get_object)
    _wrap(query_module, "prefetch_related_objects", prefetch.wrap_prefetch_related_objects)
    _wrap(query_module, "get_prefetcher", prefetch.wrap_get_prefetcher)
    _wrap(QuerySet, "_prefetch_related_objects", prefetch.wrap_queryset_prefetch)
    _wrap(ASGIHandler, "handle", _asgi_handle)
    _wrap(BaseDatabaseWrapper, "rollback", transactions.wrap_rollback)
    _wrap(BaseDatabaseWrapper, "savepoint_rollback", transactions.wrap_savepoint_rollback)
    _wrap(BaseDatabaseWrapper, "savepoint", transactions.wrap_savepoint)
    _wrap(BaseDatabaseWrapper, "savepoint_commit", transactions.wrap_savepoint_commit)


def installed() -> bool:
    """Return whether the hooks are installed."""
    return _installed
