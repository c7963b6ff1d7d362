"""What every rowsync backend knows about its database engine.

A backend holds facts (feature flags) and SQL templates for one vendor. Callers ask
``get_backend(connection).some_feature`` instead of testing ``connection.vendor``.
"""

from __future__ import annotations

from typing import ClassVar

from django.db.backends.base.base import BaseDatabaseWrapper


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
