"""The base class way of enabling the identity map: ``IdentityModel``.

``class Article(IdentityModel)`` maps ``Article`` (and its proxies and subclasses).
The metaclass :class:`IdentityModelBase` accepts rowsync's ``Meta`` options, which
Django itself would reject, and inherits them along the MRO:

* ``use_strong_refs`` (default False): hold instances strongly until flushed;
* ``multi_db`` (default False): key instances by database alias as well;
* ``shared_identity`` (default False): use the process-wide shared map.

Any other unknown ``Meta`` option is set aside and reported by the system check
``rowsync.E001`` instead of Django's ``TypeError`` at import.

Custom managers and metaclasses derive from :class:`IdentityManager` and
:class:`IdentityModelBase`, as with django-idmap.

This module defines models: import it only once the app registry is loading
(from a models module), never from ``rowsync/__init__``.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models
from django.db.models.base import ModelBase
from django.db.models.options import DEFAULT_NAMES

from rowsync._typing import DbAlias
from rowsync.identity import registry, scope
from rowsync.identity.keys import META_OPTIONS, REGISTRY, normalise_pk, pk_of
from rowsync.identity.queryset import IdentityQuerySet

_M = TypeVar("_M", bound=models.Model)


class IdentityModelBase(ModelBase):
    """Metaclass of :class:`IdentityModel`: takes rowsync's ``Meta`` options out of ``Meta``."""

    def __new__(
        mcs, name: str, bases: tuple[type, ...], attrs: dict[str, Any], **kwargs: Any
    ) -> IdentityModelBase:
        meta = attrs.get("Meta")
        own: dict[str, Any] = {}
        unknown: dict[str, Any] = {}
        if meta is not None:
            for option in list(vars(meta)):
                if option.startswith("_"):
                    continue
                if option in META_OPTIONS:
                    own[option] = getattr(meta, option)
                    delattr(meta, option)
                elif option not in DEFAULT_NAMES:
                    unknown[option] = getattr(meta, option)
                    delattr(meta, option)
        cls = super().__new__(mcs, name, bases, attrs, **kwargs)
        inherited: dict[str, Any] = {}
        for base in reversed(cls.__mro__[1:]):
            inherited.update(base.__dict__.get("_rowsync_identity_meta", {}))
        cls._rowsync_identity_meta = {**inherited, **own}  # type: ignore[attr-defined]
        cls._rowsync_unknown_meta = unknown  # type: ignore[attr-defined]
        if not cls._meta.abstract:  # type: ignore[attr-defined]
            registry.class_created(cls)  # type: ignore[arg-type]
        return cls


class IdentityManager(models.Manager[_M]):
    """The default manager of :class:`IdentityModel`; its QuerySet has ``populate_existing()``."""

    _queryset_class = IdentityQuerySet

    def get_queryset(self) -> IdentityQuerySet[_M]:
        """Return an :class:`IdentityQuerySet`."""
        hints: dict[str, Any] = getattr(self, "_hints", {})
        return IdentityQuerySet(model=self.model, using=self._db, hints=hints)

    def populate_existing(self) -> IdentityQuerySet[_M]:
        """Return a QuerySet whose rows overwrite mapped instances' loaded values."""
        return self.get_queryset().populate_existing()


class IdentityModel(models.Model, metaclass=IdentityModelBase):
    """Abstract base of identity-mapped models (django-idmap's ``IdMapModel``)."""

    # Unannotated so that django-stubs binds the manager to each concrete subclass
    # (``Article.objects.get()`` is an ``Article`` for users' mypy).
    objects = IdentityManager()

    class Meta:
        abstract = True
        base_manager_name = "objects"
        default_manager_name = "objects"

    @classmethod
    def get_cached_instance(cls, pk: object, db: DbAlias | None = None) -> Any:
        """Return the mapped instance of the row ``pk`` (of database ``db``), or None."""
        opts = REGISTRY.get(cls)
        if opts is None:
            return None
        m = scope.map_for(opts)
        obj = m.lookup(opts, normalise_pk(opts, pk), db)
        if obj is not None and db is not None and obj._state.db != db:
            return None
        return obj

    @classmethod
    def cache_instance(cls, instance: models.Model) -> None:
        """Map ``instance`` (replacing the instance mapped for its row, if any)."""
        opts = REGISTRY.get(type(instance))
        if opts is None:
            return
        m = scope.map_for(opts)
        m.store(opts, pk_of(opts, instance), instance._state.db, instance)

    @classmethod
    def flush_cached_instance(cls, instance: models.Model) -> None:
        """Forget ``instance``'s row in the map (the instance itself is untouched)."""
        opts = REGISTRY.get(type(instance))
        if opts is None:
            return
        m = scope.map_for(opts)
        m.remove(opts, pk_of(opts, instance), instance._state.db)

    @classmethod
    def flush_instance_cache(cls, db: DbAlias | None = None, flush_sub: bool = False) -> None:
        """Forget every mapped instance of this model (of ``db`` only for ``multi_db``).

        Args:
            db: Database alias; narrows ``multi_db`` models only.
            flush_sub: Also flush the mapped MTI subclasses of this model.
        """
        opts = REGISTRY.get(cls)
        if opts is None:
            return
        targets = [opts.concrete]
        if flush_sub:
            targets += [
                o.concrete
                for o in REGISTRY.values()
                if opts.concrete in o.concrete._meta.get_parent_list()
            ]
        for m in scope.maps_for_flush():
            for concrete in targets:
                m.clear(db, model=concrete)
