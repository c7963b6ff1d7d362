"""Contributors: callables that say which database objects a model should have."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Model

from rowsync.backends import VENDORS, BaseBackend, offline_backend
from rowsync.schema.objects import CompiledSQL

#: ``(model, backend) -> objects`` for one engine. ``backend`` may be offline (no
#: connection): contributors only render SQL with ``backend.qn()`` and friends.
Contributor = Callable[[type[Model], BaseBackend], list[CompiledSQL]]

# {contributor name: contributor}
_CONTRIBUTORS: dict[str, Contributor] = {}


def register_contributor(name: str, contributor: Contributor) -> None:
    """Register ``contributor`` under ``name`` (registering a name again replaces it).

    Args:
        name: Unique name, usually the subsystem (``ondelete``, ``events``).
        contributor: ``(model, backend) -> list[CompiledSQL]``.
    """
    _CONTRIBUTORS[name] = contributor


def unregister_contributor(name: str) -> None:
    """Forget the contributor ``name`` (no-op when absent)."""
    _CONTRIBUTORS.pop(name, None)


def contributors() -> dict[str, Contributor]:
    """Return a copy of the registered contributors."""
    return dict(_CONTRIBUTORS)


def _skipped(model: type[Model]) -> bool:
    opts = model._meta
    if opts.proxy or not opts.managed or opts.swapped:
        return True
    # A relation still named by a string (a migration state that lacks its target's app)
    # has no table to compile SQL against.
    return any(isinstance(getattr(f.remote_field, "model", None), str) for f in opts.fields)


def desired_objects(model: type[Model], vendors: tuple[str, ...] = VENDORS) -> list[CompiledSQL]:
    """Return every object ``model`` should have, for every engine in ``vendors``.

    Proxy, unmanaged and swapped-out models have none, nor models with a relation
    whose target is unresolved (a name, in a partial migration state).
    """
    if _skipped(model):
        return []
    found: dict[tuple[str, str], CompiledSQL] = {}
    for vendor in vendors:
        backend = offline_backend(vendor)
        for contributor in _CONTRIBUTORS.values():
            for obj in contributor(model, backend):
                found.setdefault(obj.key, obj)
    return sorted(found.values(), key=lambda o: (o.vendor, o.name))


def desired_objects_for(model: type[Model], backend: BaseBackend) -> list[CompiledSQL]:
    """Return the objects ``model`` should have on the engine of ``backend``."""
    return desired_objects(model, (backend.vendor,))
