from __future__ import annotations

from django.apps import AppConfig


class OrmAppConfig(AppConfig):
    """Models for the ORM parity tests that the blog models do not cover."""

    name = "tests.ormapp"
    label = "ormapp"
    default_auto_field = "django.db.models.BigAutoField"
