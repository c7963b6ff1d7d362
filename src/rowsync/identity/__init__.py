"""The identity map: one live instance per database row, per context.

Public API (also re-exported by :mod:`rowsync`):

* :class:`~rowsync.identity.models.IdentityModel`, ``IdentityManager``,
  ``IdentityModelBase``, ``IdentityQuerySet``: the base-class way to enable the map
  (imported lazily: they are models);
* ``ROWSYNC_IDENTITY_MAP`` (``"__all__"`` or app / model labels): the setting way;
* :func:`identity_scope`, :func:`current_map`, :func:`flush`;
* :func:`populate_existing`: per-query refresh of mapped instances;
* :func:`discard_row`, :func:`update_row`: called by rowsync's events for rows the
  database deleted or changed (no-ops for unmapped models or absent rows);
* :func:`get_cached`, :func:`evict`, :func:`is_mapped`: per-instance helpers that
  work for setting-enabled models too;
* :func:`holds_rows`: whether any map of the process holds rows of a model (how the
  events subsystem tells whether a database cascade concerns the map at all);
* :func:`set_database_actions`: how the ondelete subsystem tells which foreign keys the
  database changes when their target row is deleted (mapped children kept in step);
* :func:`unmapped`: a block whose loads build plain instances (what rowsync's events use
  to rebuild a row image without touching the map).

Subsystems import this package, never its modules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from typing import Any

from django.db.models import Model

from rowsync._typing import DbAlias, IdentityKey
from rowsync.identity.dbactions import set_source as set_database_actions
from rowsync.identity.fastdelete import use_delete_returning
from rowsync.identity.freshness import discard_row, update_row
from rowsync.identity.keys import (
    REGISTRY,
    IdentityOptions,
    is_mapped,
    mapped_family,
    normalise_pk,
    pk_of,
)
from rowsync.identity.map import IdentityConflict, IdentityMap
from rowsync.identity.queryset import populate_existing
from rowsync.identity.scope import SHARED, current_map, identity_scope, live_maps, map_for
from rowsync.identity.signals import flush, post_flush, pre_flush

__all__ = [
    "SHARED",
    "IdentityConflict",
    "IdentityKey",
    "IdentityManager",
    "IdentityMap",
    "IdentityModel",
    "IdentityModelBase",
    "IdentityOptions",
    "IdentityQuerySet",
    "current_map",
    "discard_row",
    "evict",
    "flush",
    "get_cached",
    "holds_rows",
    "identity_scope",
    "is_mapped",
    "options_for",
    "populate_existing",
    "post_flush",
    "pre_flush",
    "set_database_actions",
    "setup",
    "unmapped",
    "update_row",
    "use_delete_returning",
]

_LAZY = {
    "IdentityModel": "rowsync.identity.models",
    "IdentityModelBase": "rowsync.identity.models",
    "IdentityManager": "rowsync.identity.models",
    "IdentityQuerySet": "rowsync.identity.queryset",
}


def __getattr__(name: str) -> Any:
    """Import the model classes on first use (they need the app registry)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def options_for(model: type[Model]) -> IdentityOptions | None:
    """Return how ``model`` is mapped (strong/multi_db/shared), None if it is not."""
    return REGISTRY.get(model)


def get_cached(model: type[Model], pk: object, using: DbAlias | None = None) -> Model | None:
    """Return the current context's mapped instance of row ``pk``, None if not mapped."""
    opts = REGISTRY.get(model)
    if opts is None:
        return None
    obj = map_for(opts).lookup(opts, normalise_pk(opts, pk), using)
    if obj is not None and using is not None and obj._state.db != using:
        return None
    return obj


def evict(instance: Model) -> None:
    """Forget ``instance``'s row in the current context's map (the instance is untouched)."""
    opts = REGISTRY.get(type(instance))
    if opts is not None:
        map_for(opts).remove(opts, pk_of(opts, instance), instance._state.db)


def holds_rows(
    model: type[Model],
    using: DbAlias,
    besides: Mapping[type[Model], Iterable[Model]] | None = None,
) -> bool:
    """Return whether some identity map of the process holds a row of ``model`` from ``using``.

    Every context's map and the shared map are asked, for ``model`` and its mapped MTI
    subclasses (an instance of a child holds its parent's row too; a parent's instance
    holds no row of a child table). Rows of ``besides`` are not counted: a delete passes
    what Django's own ``DELETE`` removes (``Collector.data``), whose rows that query
    evicts from every map, with the rest of their MTI family.

    Args:
        model: A model (concrete or proxy); False if it is not mapped.
        using: The database alias of the rows.
        besides: ``{model: instances}`` whose rows are left out.

    Returns:
        True when a live instance of such a row is mapped (or another thread was
        changing a map meanwhile), False when none is.
    """
    base = REGISTRY.get(model)
    if base is None:
        return False
    family = mapped_family(model)
    skip = {
        pk_of(opts, obj)
        for other, objs in (besides or {}).items()
        if (opts := REGISTRY.get(other)) is not None and opts.concrete in family
        for obj in objs
    }
    for concrete in family:
        if not issubclass(concrete, base.concrete):
            continue  # a parent table: the rows asked about are not its own
        opts = REGISTRY[concrete]
        maps = [SHARED] if opts.shared else live_maps()
        if any(m.holds(opts, using, skip) for m in maps):
            return True
    return False


def unmapped() -> AbstractContextManager[object]:
    """Return a context manager in which ``from_db`` builds plain, unmapped instances.

    The map is neither read nor changed: a row image rebuilt inside shows the row's
    values, never a mapped instance's unsaved edits.

    Example:
        >>> with rowsync.identity.unmapped():
        ...     image = Article.from_db("default", names, values)
    """
    from rowsync.identity.loading import loading_mode
    from rowsync.identity.scope import BYPASS

    return loading_mode(BYPASS)


def setup() -> None:
    """Register mapped models; hooks and request handlers come with the first one."""
    from django.core import checks as django_checks

    from rowsync import conf
    from rowsync.identity import checks, registry, scope

    django_checks.register(checks.check_identity)
    bound = conf.identity_map_max_strong()
    scope.CONFIG.max_strong = bound if isinstance(bound, int) and bound > 0 else None
    scope.SHARED.max_strong = scope.CONFIG.max_strong
    registry.build()
