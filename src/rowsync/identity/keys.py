"""Identity keys and the registry of mapped models.

A mapped model has one :class:`IdentityOptions` in :data:`REGISTRY`, shared by its
proxies (a proxy family shares its concrete model's map). The options precompute
what the per-row hot path needs (position of the primary key among the concrete
fields, the set of attnames) so that loading a row reads no setting and walks no
``_meta`` structure.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Model

from rowsync._typing import DbAlias, IdentityKey

#: ``{model class (concrete or proxy): options}``; a class absent here is not mapped.
REGISTRY: dict[type[Model], IdentityOptions] = {}

#: Meta options rowsync adds to Django's (see ``rowsync.identity.models``).
META_OPTIONS: dict[str, bool] = {
    "use_strong_refs": False,
    "multi_db": False,
    "shared_identity": False,
}


class IdentityOptions:
    """How one concrete model (and its proxies) is mapped.

    Attributes:
        concrete: The concrete model whose rows are mapped.
        strong: Hold instances strongly (``Meta.use_strong_refs``) instead of weakly.
        multi_db: Key instances by database alias too (``Meta.multi_db``).
        shared: Use the process-wide shared map instead of the context's map.
        source: ``"base class"`` or ``"setting"``: what enabled the map.
    """

    __slots__ = (
        "attname_list",
        "attname_to_field",
        "attnames",
        "fast",
        "composite",
        "concrete",
        "field_count",
        "multi_db",
        "pk_attname",
        "pk_attnames",
        "pk_field",
        "pk_index",
        "pk_indexes",
        "pk_lookups",
        "pk_type",
        "relation_fields",
        "shared",
        "source",
        "strong",
    )

    def __init__(
        self,
        concrete: type[Model],
        *,
        strong: bool = False,
        multi_db: bool = False,
        shared: bool = False,
        source: str = "setting",
    ) -> None:
        self.concrete = concrete
        self.strong = strong
        self.multi_db = multi_db
        self.shared = shared
        self.source = source
        meta = concrete._meta
        fields = list(meta.concrete_fields)
        attnames = [f.attname for f in fields]
        self.field_count = len(fields)
        self.attnames = frozenset(attnames)
        self.attname_list = tuple(attnames)
        # {attname: Field}; Any: django-stubs lacks the relation-cache methods on Field
        self.attname_to_field: dict[str, Any] = {f.attname: f for f in fields}
        self.relation_fields: tuple[Any, ...] = tuple(f for f in fields if f.is_relation)
        pk_fields: list[Any] = list(getattr(meta, "pk_fields", None) or [meta.pk])
        self.composite = len(pk_fields) > 1
        self.pk_field = meta.pk
        self.pk_attnames = tuple(f.attname for f in pk_fields)
        self.pk_indexes = tuple(attnames.index(a) for a in self.pk_attnames)
        self.pk_attname = self.pk_attnames[0]
        self.pk_index = self.pk_indexes[0]
        pk = pk_fields[0]
        # The Python type rows carry for the key: get(pk="3") is converted, get(pk=3) is not.
        self.pk_type: type | None = {
            models.AutoField: int,
            models.BigAutoField: int,
            models.SmallAutoField: int,
            models.IntegerField: int,
            models.BigIntegerField: int,
            models.CharField: str,
        }.get(type(pk))
        # The loader's fast path covers the default: weak, single-db, context map, one pk column.
        self.fast = not (strong or multi_db or shared or self.composite)
        names = {"pk", pk.name, pk.attname}
        self.pk_lookups = frozenset(names | {f"{n}__exact" for n in names})

    def set_option(self, name: str, value: bool) -> None:
        """Change ``use_strong_refs`` or ``multi_db`` at run time (django-idmap's ``_meta``).

        The model's rows are forgotten by the current context's map and the shared map:
        they were stored under the old layout.
        """
        from rowsync.identity import scope

        if name == "use_strong_refs":
            self.strong = bool(value)
        elif name == "multi_db":
            self.multi_db = bool(value)
        else:
            raise AttributeError(name)
        self.fast = not (self.strong or self.multi_db or self.shared or self.composite)
        for m in scope.maps_for_flush():
            m.clear(model=self.concrete)

    def table_key(self, db: DbAlias | None) -> object:
        """Return the key of this model's table inside a map for rows of ``db``."""
        return (self.concrete, db) if self.multi_db else self.concrete

    def key(self, pk: object, db: DbAlias | None) -> IdentityKey:
        """Return the public :data:`IdentityKey` of the row ``pk`` of database ``db``."""
        pk_tuple = pk if self.composite and isinstance(pk, tuple) else (pk,)
        return (self.concrete, pk_tuple, db if self.multi_db else None)

    def __repr__(self) -> str:
        return (
            f"<IdentityOptions {self.concrete._meta.label} strong={self.strong} "
            f"multi_db={self.multi_db} shared={self.shared} via {self.source}>"
        )


def options_for(model: type[Model]) -> IdentityOptions | None:
    """Return the identity options of ``model`` (or of its instance's class), None if unmapped."""
    return REGISTRY.get(model)


def is_mapped(model: type[Model]) -> bool:
    """Return whether rows of ``model`` go through the identity map."""
    return model in REGISTRY


def pk_of(opts: IdentityOptions, obj: Model) -> object:
    """Return the map's key value (pk, or pk tuple for composite keys) of ``obj``."""
    d = obj.__dict__
    if opts.composite:
        return tuple(d.get(a) for a in opts.pk_attnames)
    return d.get(opts.pk_attname)


def normalise_pk(opts: IdentityOptions, pk: object) -> object:
    """Return ``pk`` as the map stores it (a composite key as a tuple)."""
    if opts.composite:
        return tuple(pk) if isinstance(pk, list | tuple) else (pk,)
    if isinstance(pk, tuple) and len(pk) == 1:
        return pk[0]
    return pk


def mapped_family(model: type[Model]) -> list[type[Model]]:
    """Return the mapped concrete models that share rows with ``model`` through MTI.

    That is the model's concrete model, its concrete parents and its concrete
    subclasses, each only if it is mapped.
    """
    cached = _FAMILY.get(model)
    if cached is not None and cached[0] == len(REGISTRY):
        return cached[1]
    concrete = model._meta.concrete_model
    assert concrete is not None
    related = {concrete, *concrete._meta.get_parent_list()}
    family = [m for m in related if m in REGISTRY and REGISTRY[m].concrete is m]
    for other, opts in REGISTRY.items():
        if (
            opts.concrete is other
            and other not in related
            and concrete in other._meta.get_parent_list()
        ):
            family.append(other)
    # REGISTRY only grows: its size tells whether the family may have changed.
    _FAMILY[model] = (len(REGISTRY), family)
    return family


# {model: (len(REGISTRY) when computed, mapped family)}
_FAMILY: dict[type[Model], tuple[int, list[type[Model]]]] = {}
