"""Build the model instance of a deleted row, the last step of every rebuild.

:func:`build` takes attribute names and Python values (from a JSON row image or a typed
inbox row, :mod:`rowsync.events.rebuild`) and returns the instance: ``Model.from_db``
outside the identity map, or, where nothing can tell the difference
(:func:`fast_rebuild_ok`), a direct fill of ``__dict__``.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from django.db import models
from django.db.models.base import ModelState
from django.db.models.fields.files import FileDescriptor
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, pre_init

from rowsync import identity
from rowsync.events.watch import ReceiverWatch

__all__ = ["build", "fast_rebuild_ok", "inherited_keys", "is_mapped", "new_instance"]


def inherited_keys(model: type[models.Model]) -> tuple[str, ...]:
    """Return the attnames of the parents' primary keys of a multi-table inheritance child.

    A row image holds the columns of the model's own table; the parents' keys (``id`` of
    the root, the ``*_ptr_id`` of each parent in between) hold the same value as the
    child's primary key. They come first in ``concrete_fields`` (parents before the
    child), so prepending them keeps ``from_db``'s field order.
    """
    local = set(model._meta.local_concrete_fields)
    return tuple(
        f.attname for f in model._meta.concrete_fields if f not in local and f.primary_key
    )


# Descriptors whose __set__ on a new instance only stores the value in __dict__ (or that
# have no __set__): for fields using them, writing __dict__ is what Model.__init__ does.
_PLAIN_DESCRIPTORS: tuple[type, ...] = (
    DeferredAttribute,
    ForeignKeyDeferredAttribute,
    FileDescriptor,
)

# {model: whether Model.__init__ may be skipped}
_SKIP_INIT: dict[type[models.Model], bool] = {}

# {model: fast_rebuild_ok(model)}, valid while no pre_init/post_init receiver connected or
# disconnected (:class:`~rowsync.events.watch.ReceiverWatch`).
_WATCH = ReceiverWatch(pre_init, post_init)
_FAST: dict[type[models.Model], bool] = {}


def _can_skip_init(model: type[models.Model]) -> bool:
    """Return whether instances of ``model`` can be built without ``Model.__init__``.

    True when nothing can tell the difference: the model keeps Django's ``__init__`` and
    ``from_db`` (or rowsync's identity-map ``from_db``, for a model it does not map), and
    every field's class attribute is one of Django's plain descriptors. Callers must also
    check that no ``pre_init``/``post_init`` receiver listens (:func:`fast_rebuild_ok`).
    """
    if model.__init__ is not models.Model.__init__:
        return False
    from_db = inspect.getattr_static(model, "from_db", None)
    func = getattr(from_db, "__func__", None)
    if func is None or from_db is not inspect.getattr_static(models.Model, "from_db", None):
        return False
    if func.__module__ not in {"django.db.models.base", "rowsync.identity.loading"}:
        return False
    if func.__module__ == "rowsync.identity.loading" and is_mapped(model):
        return False
    for f in model._meta.concrete_fields:
        descriptor = inspect.getattr_static(model, f.attname, None)
        if type(descriptor) not in _PLAIN_DESCRIPTORS:
            return False
    return True


def is_mapped(model: type[models.Model]) -> bool:
    """Return whether the identity map holds instances of ``model``."""
    return identity.options_for(model) is not None


def fast_rebuild_ok(model: type[models.Model]) -> bool:
    """Return whether :func:`rebuild` may skip ``Model.__init__`` for ``model`` right now.

    Receivers may connect at any time: the answer is kept only until a ``pre_init`` or
    ``post_init`` receiver connects or disconnects (a dictionary lookup per event).
    """
    if not _WATCH.unchanged():
        _FAST.clear()
    fast = _FAST.get(model)
    if fast is None:
        skip = _SKIP_INIT.get(model)
        if skip is None:
            skip = _SKIP_INIT[model] = _can_skip_init(model)
        fast = skip and not pre_init.has_listeners(model) and not post_init.has_listeners(model)
        _FAST[model] = fast
    return fast


def build(
    model: type[models.Model],
    names: Sequence[str],
    values: Sequence[Any],
    using: str,
    *,
    fast: bool,
) -> models.Model:
    """Build the instance of a row: ``model.from_db`` outside the identity map, or quickly.

    The event shows the row the database wrote, not a mapped instance (whose unsaved
    edits would hide it); the map is updated from the row afterwards
    (:mod:`rowsync.events.send`). With ``fast`` (only when :func:`fast_rebuild_ok` said
    so) ``__dict__`` is filled directly, as ``Model.__init__`` would.
    """
    if fast:
        return new_instance(model, names, values, using)
    with identity.unmapped():
        return model.from_db(using, names, values)


def new_instance(
    model: type[models.Model], names: Sequence[str], values: Sequence[Any], using: str
) -> models.Model:
    """Do what ``from_db()`` -> ``Model.__init__(*values)`` does, where nothing can tell."""
    instance = model.__new__(model)
    instance.__dict__.update(zip(names, values, strict=True))
    state = instance._state = ModelState()
    state.adding = False
    state.db = using
    return instance
