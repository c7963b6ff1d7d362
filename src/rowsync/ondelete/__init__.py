"""The ondelete subsystem of rowsync: the database enforces ``on_delete``."""

from __future__ import annotations

__all__ = ["setup"]


def setup() -> None:
    """Connect this subsystem's hooks, checks and signal handlers (idempotent)."""
    from rowsync import schema

    schema.setup()
