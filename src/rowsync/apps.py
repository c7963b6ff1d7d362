"""Django app configuration: wires rowsync's hooks and checks, computes nothing."""

from __future__ import annotations

from django.apps import AppConfig


class RowsyncConfig(AppConfig):
    """The ``rowsync`` app. Add ``"rowsync"`` to ``INSTALLED_APPS``."""

    name = "rowsync"
    verbose_name = "rowsync"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Let each subsystem connect its hooks (each ``setup()`` is idempotent)."""
        from rowsync import backends, checks, events, identity, ondelete

        checks.setup()
        identity.setup()
        identity.use_delete_returning(backends.delete_returning_pks)
        ondelete.setup()
        events.setup()
