"""The engine-neutral core of a backend: the connection, identifier quoting, literals.

Also the naming rule every engine keeps (:func:`bounded_name`) and the stand-in
connection of an *offline* backend (:class:`OfflineConnection`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django.db.backends.base.base import BaseDatabaseWrapper

from rowsync import _patch

#: Longest object name, in UTF-8 bytes, that every engine keeps whole: PostgreSQL cuts
#: identifiers at 63 *bytes* (NAMEDATALEN - 1,
#: https://www.postgresql.org/docs/current/sql-syntax-lexical.html#SQL-SYNTAX-IDENTIFIERS),
#: MariaDB refuses names over 64 characters
#: (https://mariadb.com/kb/en/identifier-names/#maximum-length); SQLite has no limit.
MAX_NAME_BYTES = 63


def bounded_name(head: str, table: str, digest: str, room: int) -> str:
    """Return ``<head><table>_<digest>``, lowercase, within :data:`MAX_NAME_BYTES`.

    ``table`` is cut to ``room`` characters, then, for non-ASCII names, by whole
    characters until the name fits in 63 bytes, so the digest that keeps long names
    apart is never cut off by the engine. ASCII names are unchanged by the byte rule.
    """
    part = table.lower()[:room]
    tail = f"_{digest}"
    while len(f"{head}{part}{tail}".encode()) > MAX_NAME_BYTES and part:
        part = part[:-1]
    return f"{head}{part}{tail}"


def patch_own(klass: type, name: str, make: Callable[[Any], Any], *, feature: str) -> bool:
    """Replace ``klass.name`` through :func:`rowsync._patch.apply`, even when inherited.

    An inherited attribute is first copied into ``klass`` itself, so that the replacement
    changes this engine's class only, never Django's base class that every engine shares.
    Returns whether the patch was applied by this call.
    """
    if name not in vars(klass):
        setattr(klass, name, getattr(klass, name))
    return _patch.apply(klass, name, make, feature=feature)


class BackendCore:
    """What every part of a backend builds on: the connection and quoting.

    Args:
        connection: The Django connection this backend describes.
    """

    vendor: ClassVar[str] = "base"

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self.connection = connection

    def quote_name(self, name: str) -> str:
        """Return ``name`` quoted for this engine."""
        return self.connection.ops.quote_name(name)

    # --- schema objects ---
    #: Character that quotes identifiers, so SQL can be compiled without a connection.
    identifier_quote: ClassVar[str] = '"'

    def qn(self, name: str) -> str:
        """Return ``name`` quoted for this engine without asking the connection.

        Migrations freeze SQL for every engine at ``makemigrations`` time, when no
        connection to the other engines exists (see :func:`rowsync.backends.offline_backend`).
        """
        q = self.identifier_quote
        if name.startswith(q) and name.endswith(q):
            return name
        return f"{q}{name}{q}"

    def requote(self, sql: str) -> str:
        """Return ``sql``, written with double-quoted identifiers, quoted for this engine."""
        q = self.identifier_quote
        return sql if q == '"' else sql.replace('"', q)

    def literal_sql(self, value: object) -> str:
        """Return ``value`` (None, bool, int, float, str) as an SQL literal."""
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, int | float):
            return repr(value)
        text = str(value).replace("'", "''")
        return f"'{text}'"

    def installed_objects_sql(self) -> str:
        """Return a query listing ``(name, table)`` of every ``rowsync_*`` trigger/constraint."""
        raise NotImplementedError

    #: Does Django's schema editor drop rowsync's objects when it alters a table (SQLite
    #: rebuilds the table)? Then :meth:`guard_rebuilds` is needed before a migration
    #: alters a table that has them.
    table_rebuilds_drop_objects: ClassVar[bool] = False

    def guard_rebuilds(self) -> None:
        """Make the connection's schema editors keep rowsync's objects (idempotent)."""

    def guard_flush(self) -> None:
        """Keep rowsync's objects from acting during the connection's flush (idempotent)."""


class OfflineConnection:
    """Stand-in for a connection when SQL is compiled for an engine not configured here.

    Args:
        vendor: Django's vendor name (``sqlite``, ``postgresql``, ``mysql``).
    """

    alias = "__rowsync_offline__"

    def __init__(self, vendor: str) -> None:
        self.vendor = vendor
