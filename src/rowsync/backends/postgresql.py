"""PostgreSQL: FK actions fire child triggers, LISTEN/NOTIFY and SKIP LOCKED are available."""

from __future__ import annotations

from typing import ClassVar

from rowsync.backends.base import BaseBackend


class PostgreSQLBackend(BaseBackend):
    """PostgreSQL 14+."""

    vendor: ClassVar[str] = "postgresql"
    fk_actions_fire_triggers: ClassVar[bool] = True
    supports_notify: ClassVar[bool] = True
    supports_skip_locked: ClassVar[bool] = True
