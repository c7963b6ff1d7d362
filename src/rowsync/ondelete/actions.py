"""The ``DB_*`` on_delete values: the database, not the Collector, acts on delete.

``from rowsync import DB_CASCADE, DB_PROTECT, DB_RESTRICT, DB_SET_NULL, DB_SET_DEFAULT,
DB_SET, DB_DO_NOTHING``. Each works on Django 5.2 and 6.1. Django's Collector skips
them (no ``SELECT`` of the related rows); rowsync installs the constraint or trigger
that does the work (see :mod:`rowsync.ondelete.compile`) and turns a refusal by the
database into Django's own ``ProtectedError``/``RestrictedError``.

On Django 6.1 Django's ``models.DB_CASCADE``/``DB_SET_NULL``/``DB_SET_DEFAULT`` keep
working: Django emits their ``ON DELETE`` clause and counts their deletes; rowsync leaves
them alone (it only adds chain enforcement around them, and lets its own values mix with
them: :mod:`rowsync.ondelete.mixing`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from django.db import models
from django.db.models import deletion
from django.db.models.expressions import RawSQL, Value

CollectorCallable = Callable[[Any, Any, Any, str], None]

CASCADE = "CASCADE"
PROTECT = "PROTECT"
RESTRICT = "RESTRICT"
SET_NULL = "SET_NULL"
SET_DEFAULT = "SET_DEFAULT"
SET = "SET"
DO_NOTHING = "DO_NOTHING"

#: Every behaviour, in Django's documentation order.
OPERATIONS = (CASCADE, PROTECT, RESTRICT, SET_NULL, SET_DEFAULT, SET, DO_NOTHING)


#: {operation: Django's Python-level value doing the same in the Collector}
_PYTHON_EQUIVALENTS: dict[str, CollectorCallable] = {
    CASCADE: models.CASCADE,
    PROTECT: models.PROTECT,
    RESTRICT: models.RESTRICT,
    SET_NULL: models.SET_NULL,
    SET_DEFAULT: models.SET_DEFAULT,
}


def _python_equivalent(operation: str) -> CollectorCallable:
    # DatabaseSet has its own (SET runs no collector); nothing else falls outside this.
    return _PYTHON_EQUIVALENTS.get(operation, models.DO_NOTHING)


def _lists_only(collector: Any) -> bool:
    """Return whether ``collector`` lists rows instead of deleting them.

    rowsync's explaining collector, and Django 5.2's admin ``NestedObjects`` (Django 6.1
    calls ``forced_collector`` for it itself).
    """
    if getattr(collector, "rowsync_explain", False):
        return True
    # Only when the admin is imported: rowsync does not depend on django.contrib.admin.
    admin_utils = sys.modules.get("django.contrib.admin.utils")
    return admin_utils is not None and isinstance(collector, admin_utils.NestedObjects)


class DatabaseAction:
    """An ``on_delete`` value the database enforces.

    Calling it from the Collector does nothing: the database acts when the parent row
    is deleted. ``lazy_sub_objs`` keeps Django 5.2's Collector from selecting the
    related rows; on Django 6.1 rowsync adds these values to ``SKIP_COLLECTION``.
    When rowsync explains a refusal it collects with ``forced_collector`` (Django 6.1's
    ``force_collection``) or with the Python equivalent (Django 5.2). So does a
    collector that only lists what a delete removes (the admin's ``NestedObjects``, which
    Django 6.1 builds with ``force_collection``): its page must show the rows the
    database will delete.

    Args:
        operation: One of :data:`OPERATIONS`.
        name: The public name (``DB_CASCADE``...).
    """

    lazy_sub_objs = True

    def __init__(self, operation: str, name: str) -> None:
        self.operation = operation
        self.__name__ = name

    @property
    def forced_collector(self) -> CollectorCallable:
        """Return the Python-level behaviour that reproduces this one in the Collector."""
        return _python_equivalent(self.operation)

    def __call__(self, collector: Any, field: Any, sub_objs: Any, using: str) -> None:
        """Do nothing, unless ``collector`` only lists rows (then act as Python would)."""
        if _lists_only(collector) and sub_objs:
            self.forced_collector(collector, field, sub_objs, using)

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        """Return ``rowsync.ondelete.actions.db_action('<OPERATION>')`` for migrations."""
        return ("rowsync.ondelete.actions.db_action", [self.operation], {})

    def __repr__(self) -> str:
        return f"rowsync.{self.__name__}"

    __str__ = __repr__


class DatabaseSet(DatabaseAction):
    """``DB_SET(value)``: the database sets the foreign key to a constant or an SQL expression.

    Args:
        value: A constant (int, str, ...), ``None``, ``Value(constant)`` or
            ``RawSQL("(SELECT ...)", [])`` (an expression the database evaluates). A
            Python callable cannot run in the database: the system check
            ``rowsync.E033`` refuses it (keep Python's ``SET(callable)`` there).
    """

    def __init__(self, value: object) -> None:
        super().__init__(SET, "DB_SET")
        self.value = value

    @property
    def forced_collector(self) -> CollectorCallable:
        """Return Python's ``SET(value)`` for constants (updates never block a delete)."""
        return models.DO_NOTHING

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        """Return ``rowsync.DB_SET(value)`` for migrations."""
        return ("rowsync.DB_SET", [self.value], {})

    def value_is_supported(self) -> bool:
        """Return whether the value can be rendered as SQL (not a Python callable)."""
        value = self.value
        if isinstance(value, RawSQL):
            return not value.params
        if isinstance(value, Value):
            value = value.value
        return value is None or isinstance(value, int | float | str | bool)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DatabaseSet) and repr(self.value) == repr(other.value)

    def __hash__(self) -> int:
        return hash(("DB_SET", repr(self.value)))

    def __repr__(self) -> str:
        return f"rowsync.DB_SET({self.value!r})"

    __str__ = __repr__


DB_CASCADE = DatabaseAction(CASCADE, "DB_CASCADE")
DB_PROTECT = DatabaseAction(PROTECT, "DB_PROTECT")
DB_RESTRICT = DatabaseAction(RESTRICT, "DB_RESTRICT")
DB_SET_NULL = DatabaseAction(SET_NULL, "DB_SET_NULL")
DB_SET_DEFAULT = DatabaseAction(SET_DEFAULT, "DB_SET_DEFAULT")
#: Django's own ``DO_NOTHING``: the foreign key constraint Django creates (NO ACTION)
#: refuses the delete; nothing else happens. The same object, so the two interoperate.
DB_DO_NOTHING = models.DO_NOTHING

# {operation: singleton}
_SINGLETONS = {
    a.operation: a for a in (DB_CASCADE, DB_PROTECT, DB_RESTRICT, DB_SET_NULL, DB_SET_DEFAULT)
}


def DB_SET(value: object) -> DatabaseSet:  # noqa: N802 - reads like Django's SET(...)
    """Return the database-enforced ``SET(value)`` (see :class:`DatabaseSet`)."""
    return DatabaseSet(value)


def db_action(operation: str) -> DatabaseAction:
    """Return the singleton for ``operation``; migrations call this to rebuild a value."""
    return _SINGLETONS[operation]


def django_database_on_delete() -> type | None:
    """Return Django 6.1's ``DatabaseOnDelete`` class, or None on older Django."""
    return getattr(deletion, "DatabaseOnDelete", None)


def is_django_db_action(on_delete: object) -> bool:
    """Return whether ``on_delete`` is one of Django 6.1's own ``DB_*`` values."""
    cls = django_database_on_delete()
    return cls is not None and isinstance(on_delete, cls)


def django_db_operation(on_delete: object) -> str | None:
    """Return rowsync's operation name for Django 6.1's ``DB_*`` values (else None)."""
    if not is_django_db_action(on_delete):
        return None
    names = {"CASCADE": CASCADE, "SET NULL": SET_NULL, "SET DEFAULT": SET_DEFAULT}
    return names.get(str(getattr(on_delete, "operation", "")))
