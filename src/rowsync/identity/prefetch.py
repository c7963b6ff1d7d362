"""Keep ``prefetch_related`` results per query on shared instances.

Django skips prefetching for an instance whose cache already holds the lookup
(``is_fetched``). With an identity map, that cache may have been filled by *another*
queryset, perhaps with a filtered ``Prefetch(queryset=...)``, and would silently be
reused. rowsync therefore starts a *run* for each ``prefetch_related_objects`` call
made by a queryset: the first time the run meets a mapped instance, it drops the
prefetch results an earlier query left on it (``_prefetched_objects_cache`` and the
run's ``to_attr`` names), so the lookup is fetched again for this query.
A forward foreign key or reverse one-to-one cached on the instance is dropped the same
way, once per run. Results the run itself stores are kept. The last query to prefetch
a lookup on an instance is the one whose results the instance shows afterwards; use
``Prefetch(to_attr=...)`` to keep a filtered result under its own name.
A query that reads a mapped row again without prefetching drops its prefetch results
(:mod:`rowsync.identity.reread`); the run tells that module which instances it met.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any

from django.db.models import ForeignObject, Model, OneToOneRel, QuerySet
from django.db.models.fields.related_descriptors import ManyToManyDescriptor

from rowsync.identity import reread
from rowsync.identity.keys import REGISTRY, pk_of
from rowsync.identity.loading import adopt
from rowsync.identity.scope import map_for
from rowsync.identity.state import MappedState


class PrefetchRun:
    """State of one ``prefetch_related_objects`` call.

    Attributes:
        seen: ids of mapped instances this run has already cleaned.
        to_attrs: ``Prefetch(to_attr=...)`` names of the run, dropped with the caches.
    """

    __slots__ = ("filtered", "keep", "relations", "seen", "to_attrs")

    def __init__(self, to_attrs: Iterable[str]) -> None:
        self.seen: set[int] = set()
        # {(id(obj), through_attr)} done, or filled by the query's own select_related
        self.relations: set[tuple[int, str]] = set()
        self.to_attrs = set(to_attrs)
        self.filtered: set[str] = set()  # through_attrs a Prefetch(queryset=...) names
        self.keep: list[Model] = []  # keeps the seen ids valid for the run

    def filled_by_query(self, rows: Iterable[Model], select_related: Any) -> None:
        """Keep the related objects the query's ``select_related`` has just set on ``rows``.

        They are this query's, not an earlier query's: prefetching through them must
        reuse them, as Django does. ``select_related`` is the query's tree (``{name:
        subtree}``); ``True`` (every non-null foreign key) is followed the same way.
        """
        for obj in rows:
            self._filled(obj, select_related, 0)

    def _filled(self, obj: Model | None, tree: Any, depth: int) -> None:
        if obj is None or depth > _MAX_DEPTH:
            return
        self.keep.append(obj)
        if tree is True:
            names = {
                f.name: True
                for f in obj._meta.concrete_fields
                if f.is_relation and (f.many_to_one or f.one_to_one) and not f.null
            }
        else:
            names = tree
        for name, subtree in names.items():
            self.relations.add((id(obj), name))
            cached = obj._state.fields_cache.get(name, _NOT_CACHED)
            if cached is not _NOT_CACHED and isinstance(cached, Model) and subtree:
                self._filled(cached, subtree, depth + 1)

    def clean(self, obj: Model) -> None:
        """Drop, once per run, the prefetch results an earlier query left on ``obj``."""
        if id(obj) in self.seen:
            return
        self.seen.add(id(obj))
        self.keep.append(obj)
        state = obj._state
        if state.__class__ is MappedState:
            state._rowsync_prefetched = True  # may hold this run's results from now on
        d = obj.__dict__
        if d.get("_prefetched_objects_cache"):
            # A new dict: Django prepared the attribute and reads it right after.
            d["_prefetched_objects_cache"] = {}
        for name in self.to_attrs:
            d.pop(name, None)

    def clean_relation(self, obj: Model, through_attr: str, descriptor: Any) -> None:
        """Drop, once per run, a single related object an earlier query cached on ``obj``.

        A forward foreign key (or a reverse one-to-one) is "fetched" when its cache is
        filled; on a mapped instance another query may have filled it, perhaps with a
        row this run's ``Prefetch(queryset=...)`` would not return.
        """
        key = (id(obj), through_attr)
        if key in self.relations:
            return
        self.relations.add(key)
        self.keep.append(obj)
        cache = getattr(descriptor, "field", None) or getattr(descriptor, "related", None)
        if cache is None or not hasattr(cache, "is_cached") or not cache.is_cached(obj):
            return
        if through_attr not in self.filtered and _is_the_row_s(obj, cache):
            return  # what a fresh query would fetch: the mapped instance of that row
        cache.delete_cached_value(obj)

    def add_lookups(self, lookups: Iterable[Any]) -> None:
        """Note the names a ``Prefetch(queryset=...)`` of the run may filter (nested too)."""
        for lookup in lookups:
            queryset = getattr(lookup, "queryset", None)
            if queryset is None:
                continue
            self.filtered.add(lookup.prefetch_through.rsplit("__", 1)[-1])
            self.add_lookups(getattr(queryset, "_prefetch_related_lookups", ()))


def _is_the_row_s(obj: Model, cache: Any) -> bool:
    """Return whether ``obj``'s cached related object is the mapped instance of its row.

    ``cache`` is the forward field (a foreign key or one-to-one) or the reverse one-to-one
    relation. Such an object is the one a fresh query of the relation returns (as the
    map answers ``get(pk=...)``); anything else (None, an unmapped or another row's
    object) may be an earlier query's view and is fetched again.
    """
    if _is_generic_key(cache):
        rel = cache.get_cached_value(obj)
        return rel is not None and _names_by_generic_key(obj, cache, rel) and _mapped(rel)
    reverse = isinstance(cache, OneToOneRel)
    if not (reverse or isinstance(cache, ForeignObject)):
        return False
    rel = cache.get_cached_value(obj)
    if rel is None:
        return False
    field = cache.field if reverse else cache
    if len(field.local_related_fields) != 1:
        return False
    source, target = field.local_related_fields[0], field.foreign_related_fields[0]
    child, parent = (rel, obj) if reverse else (obj, rel)
    if getattr(child, source.attname, None) != getattr(parent, target.attname, None):
        return False
    return _mapped(rel)


def _is_generic_key(cache: Any) -> bool:
    # contenttypes may not be installed: its module is loaded when a GenericForeignKey exists.
    fields = sys.modules.get("django.contrib.contenttypes.fields")
    return fields is not None and isinstance(cache, fields.GenericForeignKey)


def _names_by_generic_key(obj: Model, gfk: Any, rel: Model) -> bool:
    """Return whether ``obj``'s content type and object id name the row of ``rel``."""
    from django.contrib.contenttypes.models import ContentType

    meta = obj._meta
    ct_id = getattr(obj, meta.get_field(gfk.ct_field).attname, None)  # type: ignore[union-attr]
    ct = ContentType.objects.db_manager(obj._state.db).get_for_model(
        rel, for_concrete_model=gfk.for_concrete_model
    )
    if ct_id != ct.pk:
        return False
    try:
        pk = rel._meta.pk.to_python(getattr(obj, gfk.fk_field))
    except Exception:  # a value the related pk cannot take: not that row
        return False
    return bool(pk == rel.pk)


def _mapped(rel: Model) -> bool:
    """Return whether ``rel`` is the mapped instance of its row (views included)."""
    opts = REGISTRY.get(type(rel))
    if opts is None:
        return False
    mapped = map_for(opts).lookup(opts, pk_of(opts, rel), rel._state.db)
    return mapped is not None and mapped.__dict__ is rel.__dict__


_RUN: ContextVar[PrefetchRun | None] = ContextVar("rowsync_prefetch_run", default=None)
_NOT_CACHED = object()
_MAX_DEPTH = 10  # Django's select_related() follows at most 5 levels by default

#: The rows and select_related tree of the queryset about to prefetch (see below).
_QUERY_ROWS: ContextVar[tuple[Any, Any] | None] = ContextVar("rowsync_query_rows", default=None)


def wrap_queryset_prefetch(original: Callable[..., Any]) -> Callable[..., Any]:
    """Return ``QuerySet._prefetch_related_objects`` that tells the run its rows' joins."""

    def _prefetch_related_objects(self: QuerySet[Any]) -> Any:
        select_related = self.query.select_related
        if not select_related or self.model not in REGISTRY:
            return original(self)
        token = _QUERY_ROWS.set((self._result_cache, select_related))
        try:
            return original(self)
        finally:
            _QUERY_ROWS.reset(token)

    _prefetch_related_objects.__rowsync_wrapped__ = original  # type: ignore[attr-defined]
    return _prefetch_related_objects


def wrap_prefetch_related_objects(original: Callable[..., Any]) -> Callable[..., Any]:
    """Return ``prefetch_related_objects`` that runs inside a :class:`PrefetchRun`."""

    def prefetch_related_objects(model_instances: Sequence[Model], *related_lookups: Any) -> Any:
        if not REGISTRY:
            return original(model_instances, *related_lookups)
        to_attrs = [
            name for lookup in related_lookups if (name := getattr(lookup, "to_attr", None))
        ]
        query_rows = _QUERY_ROWS.get()
        if query_rows is not None:
            _QUERY_ROWS.set(None)  # for this call only, not for the nested ones
        run = _RUN.get()
        if run is not None:
            # A Prefetch(queryset=...) prefetching in turn: one run for the whole
            # query, so results the outer levels stored are not dropped again.
            run.to_attrs.update(to_attrs)
            run.add_lookups(related_lookups)
            if query_rows is not None:
                run.filled_by_query(*query_rows)
            return original(model_instances, *related_lookups)
        run = PrefetchRun(to_attrs)
        run.add_lookups(related_lookups)
        if query_rows is not None:
            run.filled_by_query(*query_rows)
        token = _RUN.set(run)
        seen_token = reread.MET.set(run.seen)
        try:
            return original(model_instances, *related_lookups)
        finally:
            reread.MET.reset(seen_token)
            _RUN.reset(token)

    return prefetch_related_objects


_PREFETCH_VAL = "_prefetch_related_val_"


class MappedRows:
    """A many-to-many prefetch's rows, as the mapped instances of their rows.

    Django builds them with an extra column per row (which source row it belongs to),
    so they are plain instances. Each is read for its key, stripped of the column and
    replaced by the mapped instance; the keys are handed back in the same order, as
    Django's ``prefetch_one_level`` asks for them right after listing the rows.
    """

    def __init__(self, rows: Any, key_of: Callable[[Model], Any]) -> None:
        self.rows = rows
        self.key_of = key_of
        self.keys: deque[Any] = deque()

    @property
    def _prefetch_related_lookups(self) -> Any:
        return getattr(self.rows, "_prefetch_related_lookups", ())

    @_prefetch_related_lookups.setter
    def _prefetch_related_lookups(self, value: Any) -> None:
        self.rows._prefetch_related_lookups = value

    def __iter__(self) -> Iterator[Model]:
        for row in self.rows:
            self.keys.append(self.key_of(row))
            d = row.__dict__
            for name in [n for n in d if n.startswith(_PREFETCH_VAL)]:
                del d[name]
            yield adopt(row)

    def next_key(self, obj: Model) -> Any:
        """Return the key of the next row (``obj`` is the mapped instance of that row)."""
        return self.keys.popleft()


class MappingPrefetcher:
    """A many-to-many prefetcher (related manager) whose rows come back mapped."""

    def __init__(self, prefetcher: Any) -> None:
        self._prefetcher = prefetcher

    def __getattr__(self, name: str) -> Any:
        return getattr(self._prefetcher, name)

    def get_prefetch_querysets(self, *args: Any, **kwargs: Any) -> Any:
        """Return Django's answer with the rows and their keys read through the map."""
        result = self._prefetcher.get_prefetch_querysets(*args, **kwargs)
        rows, key_of, *rest = result
        if getattr(rows, "model", None) not in REGISTRY:
            return result
        mapped = MappedRows(rows, key_of)
        return (mapped, mapped.next_key, *rest)


def wrap_get_prefetcher(original: Callable[..., Any]) -> Callable[..., Any]:
    """Return ``get_prefetcher`` whose ``is_fetched`` cleans mapped instances first."""

    def get_prefetcher(instance: Model, through_attr: str, to_attr: str) -> Any:
        prefetcher, descriptor, attr_found, is_fetched = original(instance, through_attr, to_attr)
        run = _RUN.get()
        if run is None or prefetcher is None:
            return prefetcher, descriptor, attr_found, is_fetched

        # A single related object: Django's prefetcher is the descriptor itself.
        single = prefetcher is descriptor and through_attr == to_attr

        def run_is_fetched(obj: Model) -> bool:
            if type(obj) in REGISTRY:
                run.clean(obj)
                if single:
                    run.clean_relation(obj, through_attr, descriptor)
            return bool(is_fetched(obj))

        if _maps_many_rows(prefetcher, descriptor):
            prefetcher = MappingPrefetcher(prefetcher)
        return prefetcher, descriptor, attr_found, run_is_fetched

    return get_prefetcher


def _maps_many_rows(prefetcher: Any, descriptor: Any) -> bool:
    """Return whether ``prefetcher`` is a many-to-many manager of a mapped model."""
    return (
        type(descriptor) is ManyToManyDescriptor
        and hasattr(prefetcher, "get_prefetch_querysets")
        and getattr(prefetcher, "model", None) in REGISTRY
    )
