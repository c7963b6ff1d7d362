"""Mapped rows the database changes itself when their parent row is deleted.

A foreign key declared with a database ``on_delete`` (Django 6.1's ``DB_CASCADE``,
``DB_SET_NULL``, ``DB_SET_DEFAULT``; rowsync's ``DB_*`` values and the chains below
their cascades) is acted on by the database: Django's Collector never reads those rows,
so no write of the ORM tells the map. When a delete query removes parent rows, the
mapped children that pointed at them are brought in step here, in the current
context's map and the shared map (as ``update()`` does):

* ``CASCADE``: the children are gone: evicted from every map (and their own children
  followed in turn);
* ``SET NULL`` / ``SET DEFAULT`` (``DB_SET(value)`` counts as ``SET DEFAULT``): the
  foreign key is **expired** (its cached related object dropped, an unsaved edit kept);
  the next access reads the value the database wrote.

rowsync's events (``ROWSYNC_CAPTURE``) tell the map the same through ``discard_row``
and ``update_row``; this path needs no capture. Which foreign keys the database acts on
comes from a *source* the ondelete subsystem registers (:func:`set_source`); without
one, Django 6.1's own ``DB_*`` values are read from the fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.apps import apps as global_apps
from django.db.models import Model

from rowsync._typing import DbAlias
from rowsync.identity import scope
from rowsync.identity.clean import expire_clean
from rowsync.identity.keys import REGISTRY, mapped_family, pk_of
from rowsync.identity.map import IdentityMap

#: ``source(target model) -> [(foreign key, "CASCADE" | "SET NULL" | "SET DEFAULT")]``
Source = Callable[[type[Model]], Iterable[tuple[Any, str]]]

_SOURCE: list[Source] = []


def set_source(source: Source) -> None:
    """Name the function telling which foreign keys into a model the database acts on."""
    _SOURCE[:] = [source]


def _django_actions(target: type[Model]) -> list[tuple[Any, str]]:
    """Return Django 6.1's own ``DB_*`` foreign keys into ``target`` (none on 5.2)."""
    from django.db.models import deletion

    cls = getattr(deletion, "DatabaseOnDelete", None)
    if cls is None:
        return []
    out = []
    for rel in target._meta.related_objects:
        on_delete = getattr(rel, "on_delete", None)
        if isinstance(on_delete, cls) and rel.field.concrete:
            out.append((rel.field, str(on_delete.operation)))
    return out


def incoming(target: type[Model]) -> list[tuple[Any, str]]:
    """Return the foreign keys into ``target`` the database acts on, of mapped models."""
    concrete = target._meta.concrete_model
    if concrete is None or concrete._meta.apps is not global_apps:
        return []  # a migration's historical models are never mapped
    found = _SOURCE[0](concrete) if _SOURCE else _django_actions(concrete)
    return [(fk, action) for fk, action in found if mapped_family(fk.model)]


def reaches_held(target: type[Model], using: DbAlias) -> bool:
    """Return whether a delete of ``target`` rows may change mapped rows of ``using``."""
    for fk, _ in incoming(target):
        for concrete in mapped_family(fk.model):
            opts = REGISTRY[concrete]
            for m in _maps(all_maps=True):
                if (m is scope.SHARED) == opts.shared and any(
                    obj._state.db == using for obj in m.instances(concrete)
                ):
                    return True
    return False


def after_parent_delete(target: type[Model], pks: Iterable[object], using: DbAlias) -> None:
    """Bring the mapped children of the deleted rows ``pks`` of ``target`` in step."""
    _follow(target, set(pks), using, set())


def _follow(target: type[Model], pks: set[object], using: DbAlias, seen: set[object]) -> None:
    if not pks:
        return
    for fk, action in incoming(target):
        values = _deleted_values(fk, pks)
        if action == "CASCADE":
            for child_model, child_pks in _matching(fk, values, using, all_maps=True):
                _evict(child_model, child_pks, using)
                fresh = {pk for pk in child_pks if (child_model, pk) not in seen}
                seen.update((child_model, pk) for pk in fresh)
                _follow(child_model, fresh, using, seen)
        else:
            for child_model, child_pks in _matching(fk, values, using, all_maps=False):
                _expire(child_model, fk.attname, child_pks, using)


def _deleted_values(fk: Any, pks: set[object]) -> set[object] | None:
    """Return the values the children of rows ``pks`` hold in ``fk`` (None: not known).

    A foreign key to a column other than the primary key (``to_field``) holds values
    the map cannot tell from the pks: every mapped child with a value is then taken.
    """
    if fk.target_field.primary_key:
        return pks
    return None


def _maps(all_maps: bool) -> list[IdentityMap]:
    return [scope.SHARED, *scope.live_maps()] if all_maps else scope.maps_for_flush()


def _matching(
    fk: Any, values: set[object] | None, using: DbAlias, *, all_maps: bool
) -> list[tuple[type[Model], set[object]]]:
    """Return ``[(mapped model, pks)]`` of the mapped rows whose ``fk`` holds one of ``values``."""
    out = []
    attname = fk.attname
    for concrete in mapped_family(fk.model):
        opts = REGISTRY[concrete]
        if attname not in opts.attnames:
            continue
        hit: set[object] = set()
        for m in _maps(all_maps):
            if (m is scope.SHARED) != opts.shared:
                continue
            for obj in m.instances(concrete):
                if obj._state.db != using:
                    continue
                value = obj.__dict__.get(attname)
                if value is not None and (values is None or value in values):
                    hit.add(pk_of(opts, obj))
        if hit:
            out.append((concrete, hit))
    return out


def _evict(model: type[Model], pks: set[object], using: DbAlias) -> None:
    for concrete in mapped_family(model):  # MTI: the database deletes the whole row
        opts = REGISTRY[concrete]
        for m in _maps(all_maps=True):
            for pk in pks:
                m.remove(opts, pk, using)


def _expire(model: type[Model], attname: str, pks: set[object], using: DbAlias) -> None:
    opts = REGISTRY[model]
    for m in _maps(all_maps=False):
        for pk in pks:
            obj = m.lookup(opts, pk, using)
            if obj is not None and obj._state.db == using:
                expire_clean(opts, obj, (attname,))
