from __future__ import annotations

from django.apps import AppConfig


class Config(AppConfig):
    name = "tests.swapp"
    label = "swapp"
    default_auto_field = "django.db.models.BigAutoField"
