"""The one registry of rowsync's changes to Django: every patch goes through here.

A patch replaces one attribute of a Django class or module, for one *feature*
(``identity``, ``ondelete``, ``events``, ``schema``). It is applied only when a setting or
a model switches that feature on, at most once, and it is listable:
:func:`patches_applied` (re-exported as ``rowsync.patches_applied()``) tells what rowsync
changed in this process. Every replacement carries one marker, ``__rowsync_patch__``,
holding its :class:`Patch` records (see :func:`records_of`).

``Collector.delete`` is wrapped once, by this module, however many features take part in
a delete. Each feature registers a :class:`DeleteStep` instead: a function that receives
the collector and ``proceed`` (the rest of the chain) and returns what ``proceed``
returned, or its own result. Steps run in ascending ``order``, the lowest outermost::

    ondelete enforcement      (order 100)  savepoint, counts, RESTRICT; explains a refusal
      events capture session  (order 200)  opens the session, runs the rest, delivers
        Django's Collector.delete

The on_delete step is the outer one: its savepoint (taken where the database can refuse
the delete) lets it explain a refusal after the inner steps failed, and the delete it then
runs again passes through every step.

Example:
    >>> def step(collector, proceed):
    ...     return proceed()
    >>> add_delete_step("demo", step, order=300, feature="demo")  # doctest: +SKIP
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MARK = "__rowsync_patch__"

# The order of the Collector.delete steps (lowest runs outermost).
ORDER_ONDELETE = 100
ORDER_CAPTURE = 200


@dataclass(frozen=True)
class Patch:
    """One attribute rowsync replaced.

    Attributes:
        feature: The rowsync feature that needed it (``identity``, ``ondelete``...).
        owner: The class or module whose attribute was replaced.
        name: The attribute's name.
        original: What the attribute held before.
    """

    feature: str
    owner: Any
    name: str
    original: Any

    @property
    def target(self) -> str:
        """Return ``module.Class.name`` for messages and listings."""
        owner = getattr(self.owner, "__qualname__", None) or self.owner.__name__
        module = getattr(self.owner, "__module__", None)
        prefix = f"{module}.{owner}" if module and module != owner else owner
        return f"{prefix}.{self.name}"


# [Patch], in the order applied
_APPLIED: list[Patch] = []


def _current(owner: Any, name: str) -> Any:
    """Return ``owner.name`` undecorated: a class's own or inherited ``__dict__`` entry."""
    if not isinstance(owner, type):
        return getattr(owner, name)
    # The raw entry (a classmethod stays a classmethod); inherited ones too, so that a
    # subclass (migrate.Command) can be patched without touching its base class.
    for klass in owner.__mro__:
        if name in klass.__dict__:
            return klass.__dict__[name]
    raise AttributeError(f"{owner.__qualname__} has no attribute {name!r}")


def records_of(value: Any) -> tuple[Patch, ...]:
    """Return the :class:`Patch` records a replacement carries (none for Django's own value).

    One replacement may serve several attributes: Django's check ``commands.E001``
    wants ``makemigrations`` and ``migrate`` to share one autodetector class.
    """
    found = getattr(value, MARK, None)
    if found is None:
        found = getattr(getattr(value, "__func__", None), MARK, None)
    return found if isinstance(found, tuple) else ()


def record_of(value: Any) -> Patch | None:
    """Return the first :class:`Patch` a replacement carries, or None for Django's own value."""
    records = records_of(value)
    return records[0] if records else None


def is_applied(owner: Any, name: str) -> bool:
    """Return whether rowsync has replaced ``owner.name``."""
    return any(r.owner is owner and r.name == name for r in records_of(_current(owner, name)))


def apply(owner: Any, name: str, make: Callable[[Any], Any], *, feature: str) -> bool:
    """Replace ``owner.name`` with ``make(original)`` once; return whether it did now.

    Args:
        owner: A class (the raw ``__dict__`` entry, its own or inherited, is read) or a
            module. The replacement is set on ``owner`` itself.
        name: The attribute to replace.
        make: Builds the replacement from the original value.
        feature: The feature that needs the patch.

    Returns:
        True when the patch was applied by this call, False when it already was.
    """
    original = _current(owner, name)
    if records_of(original):
        return False
    record = Patch(feature=feature, owner=owner, name=name, original=original)
    replacement = make(original)
    target = getattr(replacement, "__func__", replacement)
    # type.__setattr__ for classes: a class (the autodetector) may define __setattr__.
    marked = (*records_of(replacement), record)
    (type.__setattr__ if isinstance(target, type) else object.__setattr__)(target, MARK, marked)
    if callable(target) and getattr(target, "__doc__", None) is None:
        target.__doc__ = getattr(original, "__doc__", None)
    setattr(owner, name, replacement)
    _APPLIED.append(record)
    return True


def original(owner: Any, name: str) -> Any:
    """Return what ``owner.name`` held before rowsync replaced it (itself if it did not)."""
    value = _current(owner, name)
    for record in records_of(value):
        if record.owner is owner and record.name == name:
            return record.original
    return value


def patches_applied() -> list[Patch]:
    """Return every patch rowsync applied in this process, in the order applied.

    Example:
        >>> [p.target for p in rowsync.patches_applied()]  # doctest: +SKIP
        ['django.db.models.deletion.Collector.delete', ...]
    """
    return list(_APPLIED)


# --- Collector.delete: one wrapper, ordered steps --------------------------------------

DeleteStep = Callable[[Any, Callable[[], Any]], Any]
"""A step of ``Collector.delete``: ``step(collector, proceed) -> result``."""


@dataclass(frozen=True)
class _Step:
    name: str
    order: int
    run: DeleteStep
    feature: str


# [_Step], sorted by order
_STEPS: list[_Step] = []


def add_delete_step(name: str, run: DeleteStep, *, order: int, feature: str) -> None:
    """Register a step of ``Collector.delete`` (idempotent by name) and wrap it once.

    Args:
        name: A unique name; registering it again changes nothing.
        run: ``run(collector, proceed)``; call ``proceed()`` to run the inner steps and
            Django's own ``delete()``.
        order: Lower runs outside higher (see the module docstring's constants).
        feature: The feature the step belongs to.
    """
    from django.db.models.deletion import Collector

    if any(step.name == name for step in _STEPS):
        return
    _STEPS.append(_Step(name=name, order=order, run=run, feature=feature))
    _STEPS.sort(key=lambda step: step.order)
    apply(Collector, "delete", _make_delete, feature="collector")


def delete_steps() -> list[str]:
    """Return the names of the registered ``Collector.delete`` steps, outermost first."""
    return [step.name for step in _STEPS]


def _make_delete(django_delete: Callable[[Any], Any]) -> Callable[[Any], Any]:
    @functools.wraps(django_delete)
    def delete(self: Any) -> Any:
        return _run(self, 0, django_delete)

    return delete


def _run(collector: Any, index: int, django_delete: Callable[[Any], Any]) -> Any:
    if index == len(_STEPS):
        return django_delete(collector)
    step = _STEPS[index]
    return step.run(collector, lambda: _run(collector, index + 1, django_delete))
