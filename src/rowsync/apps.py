"""Django app configuration: wires rowsync's hooks and checks, computes nothing."""

from __future__ import annotations

from django.apps import AppConfig


class RowsyncConfig(AppConfig):
    """The ``rowsync`` app. Add ``"rowsync"`` to ``INSTALLED_APPS``."""

    name = "rowsync"
    verbose_name = "rowsync"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Connect checks and signal handlers (idempotent: Django may call it twice in tests)."""
        from rowsync import checks  # noqa: F401  (registers the system checks)
