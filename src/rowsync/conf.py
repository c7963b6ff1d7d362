"""Settings, read only through the functions of this module.

Each ``ROWSYNC_*`` setting has one function here that returns its value with the
default applied, so the rest of the package never reads ``django.conf.settings``.
"""

from __future__ import annotations

from django.conf import settings


def _model_selection(name: str) -> str | list[str] | tuple[str, ...]:
    value: str | list[str] | tuple[str, ...] = getattr(settings, name, ())
    return value


def identity_map_selection() -> str | list[str] | tuple[str, ...]:
    """Return ``ROWSYNC_IDENTITY_MAP``: ``"__all__"`` or ``"app_label"``/``"app.Model"`` labels."""
    return _model_selection("ROWSYNC_IDENTITY_MAP")


def db_on_delete_selection() -> str | list[str] | tuple[str, ...]:
    """Return ``ROWSYNC_DB_ON_DELETE``: models whose ``on_delete`` the database enforces."""
    return _model_selection("ROWSYNC_DB_ON_DELETE")


def capture_selection() -> str | list[str] | tuple[str, ...]:
    """Return ``ROWSYNC_CAPTURE``: models whose deleted rows the database records."""
    return _model_selection("ROWSYNC_CAPTURE")
