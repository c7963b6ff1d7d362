from __future__ import annotations

from django.apps import AppConfig


class BlogConfig(AppConfig):
    name = "blog"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Connect the demo's post_delete receivers."""
        from blog import receivers

        receivers.connect()
