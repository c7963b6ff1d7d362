"""What a query that reads a mapped row again drops: related results an earlier query left.

A fresh Django instance holds no prefetch results; the mapped instance a query hands back
must not either, unless this very query stores them. Django stores them after building
the instances (``prefetch_related_objects``), so every re-read simply drops
``_prefetched_objects_cache``, except while a prefetch run (:mod:`rowsync.identity.prefetch`)
is filling the instance: a level of the run re-reading a row an outer level of the same
run met keeps what the run stored there.

The check on the loader's hit path is one dict lookup; the rest runs only for instances
an earlier query prefetched onto.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from django.db.models import Model

PREFETCHED = "_prefetched_objects_cache"


#: The ids of the instances the prefetch run in progress met (``PrefetchRun.seen``), None
#: outside a run (set by :mod:`rowsync.identity.prefetch`).
MET: ContextVar[set[int] | None] = ContextVar("rowsync_prefetch_met", default=None)
_met = MET.get


def drop_prefetched(obj: Model) -> None:
    """Drop the prefetch results on ``obj`` unless the prefetch run in progress met it.

    Called for a re-read instance that holds ``_prefetched_objects_cache``.
    """
    met = _met()
    if met is not None and id(obj) in met:
        return
    obj.__dict__.pop(PREFETCHED, None)


def forget_reverse_one_to_one(field: Any, obj: Model) -> None:
    """Drop the reverse one-to-one cached on the row ``obj``'s one-to-one ``field`` named.

    Called when ``field``'s value on ``obj`` changes under rowsync, before its own cache
    is dropped: the related instance it cached must no longer answer ``obj`` through its
    reverse accessor.
    """
    if not field.one_to_one or not field.is_cached(obj):
        return
    related = field.get_cached_value(obj)
    rel = field.remote_field
    if related is not None and rel.is_cached(related) and rel.get_cached_value(related) is obj:
        rel.delete_cached_value(related)


__all__ = ["MET", "PREFETCHED", "drop_prefetched", "forget_reverse_one_to_one"]
