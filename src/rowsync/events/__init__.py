"""events subsystem of rowsync."""

from __future__ import annotations

__all__: list[str] = []
