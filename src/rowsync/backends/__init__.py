"""Vendor facts and SQL. The only place in rowsync that reads ``connection.vendor``."""

from __future__ import annotations

from typing import Any, cast

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import QuerySet

from rowsync.backends.base import (
    MAX_NAME_BYTES,
    PRE_CASCADE_DEPTH,
    PROTECT_MARKER,
    SET_TARGET_MARKER,
    BaseBackend,
    OfflineConnection,
    OnDeleteSpec,
    WorkerListener,
    bounded_name,
)
from rowsync.backends.mysql import MySQLBackend
from rowsync.backends.postgresql import PostgreSQLBackend
from rowsync.backends.sqlite import SQLiteBackend
from rowsync.exceptions import ImproperlyConfiguredBackend

__all__ = [
    "MAX_NAME_BYTES",
    "PRE_CASCADE_DEPTH",
    "PROTECT_MARKER",
    "SET_TARGET_MARKER",
    "VENDORS",
    "BaseBackend",
    "OnDeleteSpec",
    "WorkerListener",
    "bounded_name",
    "delete_returning_pks",
    "get_backend",
    "is_supported",
    "offline_backend",
    "vendor_of",
]

# {vendor: backend class}
_BACKENDS: dict[str, type[BaseBackend]] = {
    "sqlite": SQLiteBackend,
    "postgresql": PostgreSQLBackend,
    "mysql": MySQLBackend,
}


def vendor_of(connection: BaseDatabaseWrapper) -> str:
    """Return Django's vendor name of ``connection`` (``sqlite``, ``postgresql``, ``mysql``...).

    For code that compares it with the ``vendor`` frozen into a database object; any
    other question about the engine is a backend flag.
    """
    return connection.vendor


def is_supported(connection: BaseDatabaseWrapper) -> bool:
    """Return whether rowsync has a backend for ``connection``'s vendor."""
    return connection.vendor in _BACKENDS


def get_backend(connection: BaseDatabaseWrapper) -> BaseBackend:
    """Return the rowsync backend describing ``connection``.

    Args:
        connection: A Django database connection.

    Raises:
        ImproperlyConfiguredBackend: rowsync does not support the vendor.
    """
    try:
        cls = _BACKENDS[connection.vendor]
    except KeyError:
        raise ImproperlyConfiguredBackend(
            f"rowsync has no backend for database vendor {connection.vendor!r}"
        ) from None
    return cls(connection)


def delete_returning_pks(qs: QuerySet[Any], using: str) -> tuple[int, list[Any]] | None:
    """Fast-delete ``qs``'s rows on ``using``; return ``(count, deleted pks)``, or None.

    None (nothing run) when the engine cannot return the rows a ``DELETE`` removed
    (see :mod:`rowsync.backends.base.returning`) or rowsync has no backend for it.
    """
    connection = connections[using]
    if not is_supported(connection):
        return None
    return get_backend(connection).delete_returning_pks(qs, using)


#: Every vendor rowsync compiles SQL for, in a stable order.
VENDORS: tuple[str, ...] = tuple(_BACKENDS)


def offline_backend(vendor: str) -> BaseBackend:
    """Return a backend for ``vendor`` that compiles SQL without any connection.

    ``makemigrations`` freezes the SQL of every engine into a migration, including
    engines the project has no connection to. Such a backend only quotes and renders;
    it must not run queries or read server versions.

    Raises:
        ImproperlyConfiguredBackend: rowsync does not support the vendor.
    """
    try:
        cls = _BACKENDS[vendor]
    except KeyError:
        raise ImproperlyConfiguredBackend(f"rowsync has no backend for {vendor!r}") from None
    return cls(cast(BaseDatabaseWrapper, OfflineConnection(vendor)))
