"""System checks. Ids are ``rowsync.E0xx`` (errors) and ``rowsync.W0xx`` (warnings).

Ids never change meaning. Ranges: E001-E029 identity map, E030-E059 database
on_delete, E060-E089 events and capture, E090-E099 general. Subsystems register
their own checks from their ``checks`` modules; this module holds the general ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.core import checks
from django.db import connections

from rowsync.backends import is_supported


def setup() -> None:
    """Register the general checks (Django ignores a second registration)."""
    checks.register(check_database_vendors, checks.Tags.database)


def check_database_vendors(
    app_configs: Sequence[AppConfig] | None = None,
    databases: Sequence[str] | None = None,
    **kwargs: Any,
) -> list[checks.CheckMessage]:
    """rowsync.E090: a checked database has a vendor rowsync does not support."""
    errors: list[checks.CheckMessage] = []
    for alias in databases or ():
        connection = connections[alias]
        if not is_supported(connection):
            errors.append(
                checks.Error(
                    f"Database {alias!r} uses vendor {connection.vendor!r}, "
                    "which rowsync does not support.",
                    hint="rowsync supports SQLite, PostgreSQL and MariaDB/MySQL.",
                    id="rowsync.E090",
                )
            )
    return errors
