"""Vendor facts and SQL. The only place in rowsync that reads ``connection.vendor``."""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

from rowsync.backends.base import BaseBackend
from rowsync.backends.mysql import MySQLBackend
from rowsync.backends.postgresql import PostgreSQLBackend
from rowsync.backends.sqlite import SQLiteBackend
from rowsync.exceptions import ImproperlyConfiguredBackend

__all__ = ["BaseBackend", "get_backend", "is_supported"]

# {vendor: backend class}
_BACKENDS: dict[str, type[BaseBackend]] = {
    "sqlite": SQLiteBackend,
    "postgresql": PostgreSQLBackend,
    "mysql": MySQLBackend,
}


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
