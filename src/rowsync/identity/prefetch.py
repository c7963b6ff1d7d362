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
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any

from django.db.models import Model
from django.db.models.fields.related_descriptors import ManyToManyDescriptor

from rowsync.identity.keys import REGISTRY
from rowsync.identity.loading import adopt


class PrefetchRun:
    """State of one ``prefetch_related_objects`` call.

    Attributes:
        seen: ids of mapped instances this run has already cleaned.
        to_attrs: ``Prefetch(to_attr=...)`` names of the run, dropped with the caches.
    """

    __slots__ = ("keep", "relations", "seen", "to_attrs")

    def __init__(self, to_attrs: frozenset[str]) -> None:
        self.seen: set[int] = set()
        self.relations: set[tuple[int, str]] = set()  # {(id(obj), through_attr)} done
        self.to_attrs = to_attrs
        self.keep: list[Model] = []  # keeps the seen ids valid for the run

    def clean(self, obj: Model) -> None:
        """Drop, once per run, the prefetch results an earlier query left on ``obj``."""
        if id(obj) in self.seen:
            return
        self.seen.add(id(obj))
        self.keep.append(obj)
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
        if cache is not None and hasattr(cache, "is_cached") and cache.is_cached(obj):
            cache.delete_cached_value(obj)


_RUN: ContextVar[PrefetchRun | None] = ContextVar("rowsync_prefetch_run", default=None)


def wrap_prefetch_related_objects(original: Callable[..., Any]) -> Callable[..., Any]:
    """Return ``prefetch_related_objects`` that runs inside a :class:`PrefetchRun`."""

    def prefetch_related_objects(model_instances: Sequence[Model], *related_lookups: Any) -> Any:
        if not REGISTRY:
            return original(model_instances, *related_lookups)
        to_attrs = frozenset(
            name for lookup in related_lookups if (name := getattr(lookup, "to_attr", None))
        )
        token = _RUN.set(PrefetchRun(to_attrs))
        try:
            return original(model_instances, *related_lookups)
        finally:
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
