"""The ondelete subsystem of rowsync."""

from __future__ import annotations

__all__ = ["setup"]


def setup() -> None:
    """Connect this subsystem's hooks, checks and signal handlers (idempotent)."""
