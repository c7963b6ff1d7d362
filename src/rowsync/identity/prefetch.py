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

from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any

from django.db.models import Model

from rowsync.identity.keys import REGISTRY


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

    prefetch_related_objects.__rowsync_wrapped__ = original  # type: ignore[attr-defined]
    return prefetch_related_objects


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

        return prefetcher, descriptor, attr_found, run_is_fetched

    get_prefetcher.__rowsync_wrapped__ = original  # type: ignore[attr-defined]
    return get_prefetcher
