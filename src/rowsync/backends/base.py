"""What every rowsync backend knows about its database engine.

A backend holds facts (feature flags) and SQL templates for one vendor. Callers ask
``get_backend(connection).some_feature`` instead of testing ``connection.vendor``.
"""

from __future__ import annotations

from typing import ClassVar, Protocol

from django.db.backends.base.base import BaseDatabaseWrapper


class WorkerListener(Protocol):
    """A wake-up channel for an idle event worker (PostgreSQL ``LISTEN``)."""

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; return whether new events were announced."""

    def close(self) -> None:
        """Release the channel's connection."""


class BaseBackend:
    """Facts and SQL for one database engine.

    Args:
        connection: The Django connection this backend describes.
    """

    vendor: ClassVar[str] = "base"

    #: Do FK ``ON DELETE`` actions fire row triggers on the child table?
    fk_actions_fire_triggers: ClassVar[bool] = True
    #: Does the engine accept ``ON DELETE SET DEFAULT``?
    supports_fk_set_default: ClassVar[bool] = True
    #: Does the engine have ``LISTEN/NOTIFY``-style wake-ups for workers?
    supports_notify: ClassVar[bool] = False
    #: Does ``SELECT ... FOR UPDATE SKIP LOCKED`` work?
    supports_skip_locked: ClassVar[bool] = False
    #: Deepest chain of FK actions the engine runs in one statement (None: unlimited).
    max_cascade_depth: ClassVar[int | None] = None

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self.connection = connection

    def quote_name(self, name: str) -> str:
        """Return ``name`` quoted for this engine."""
        return self.connection.ops.quote_name(name)

    def has_feature(self, name: str) -> bool:
        """Return the boolean feature flag ``name`` (False for unknown names)."""
        return bool(getattr(self, name, False))

    # --- worker ---
    #: Can an ``UPDATE`` pick its rows with a ``LIMIT``ed subquery on its own table?
    #: (MySQL/MariaDB: "This version ... doesn't yet support 'LIMIT & IN/ALL/ANY/SOME
    #: subquery'", https://dev.mysql.com/doc/refman/8.0/en/subquery-restrictions.html)
    worker_lease_update_subquery: ClassVar[bool] = True

    @property
    def worker_skip_locked(self) -> bool:
        """Return whether workers claim events with ``SELECT ... FOR UPDATE SKIP LOCKED``.

        Django knows the server version (MariaDB has SKIP LOCKED from 10.6, MySQL from 8.0).
        """
        features = self.connection.features
        return self.supports_skip_locked and bool(features.has_select_for_update_skip_locked)

    def worker_listener(self) -> WorkerListener | None:
        """Return a wake-up channel for idle workers, or None when they must poll."""
        return None

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


class OfflineConnection:
    """Stand-in for a connection when SQL is compiled for an engine not configured here.

    Args:
        vendor: Django's vendor name (``sqlite``, ``postgresql``, ``mysql``).
    """

    alias = "__rowsync_offline__"

    def __init__(self, vendor: str) -> None:
        self.vendor = vendor
