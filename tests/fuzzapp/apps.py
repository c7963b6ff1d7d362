from __future__ import annotations

from django.apps import AppConfig


class Config(AppConfig):
    name = "tests.fuzzapp"
    label = "fuzzapp"
    default_auto_field = "django.db.models.BigAutoField"
