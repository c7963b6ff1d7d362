from __future__ import annotations

from django.apps import AppConfig


class Config(AppConfig):
    name = "tests.odapp"
    label = "odapp"
    default_auto_field = "django.db.models.BigAutoField"
