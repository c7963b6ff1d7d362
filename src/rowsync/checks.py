"""System checks. Ids are ``rowsync.E0xx`` (errors) and ``rowsync.W0xx`` (warnings).

Ids never change meaning. Ranges: E001-E029 identity map, E030-E059 database
on_delete, E060-E089 events and capture, E090-E099 general, E130-E149 where objects
are migrated (``rowsync.schema.checks``). Subsystems register
their own checks from their ``checks`` modules; this module holds the general ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.apps import AppConfig
from django.core import checks
from django.db import connections

from rowsync import conf
from rowsync.backends import is_supported

# {setting name: conf reader}: numeric settings that must be positive.
_POSITIVE_NUMBERS: dict[str, Callable[[], object]] = {
    "ROWSYNC_WORKER_BATCH_SIZE": conf.worker_batch_size,
    "ROWSYNC_WORKER_POLL_INTERVAL": conf.worker_poll_interval,
    "ROWSYNC_WORKER_MAX_ATTEMPTS": conf.worker_max_attempts,
    "ROWSYNC_WORKER_RETRY_DELAY": conf.worker_retry_delay,
    "ROWSYNC_DELIVERY_BATCH_SIZE": conf.delivery_batch_size,
    "ROWSYNC_DELIVERY_LEASE": conf.delivery_lease,
}


def setup() -> None:
    """Register the general checks (Django ignores a second registration)."""
    checks.register(check_database_vendors, checks.Tags.database)
    checks.register(check_numeric_settings)


def _positive(value: object) -> bool:
    if isinstance(value, tuple):
        return all(_positive(v) for v in value)
    return isinstance(value, int | float) and value > 0


def check_numeric_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """rowsync.E091: a numeric ``ROWSYNC_*`` setting is not a positive number."""
    errors: list[checks.CheckMessage] = []
    for name, reader in _POSITIVE_NUMBERS.items():
        try:
            ok = _positive(reader())
        except (TypeError, ValueError):
            ok = False
        if not ok:
            errors.append(
                checks.Error(
                    f"{name} must be a positive number.",
                    hint=f"Remove {name} to use the default, or set a number above zero "
                    "(ROWSYNC_WORKER_RETRY_DELAY takes one number or a pair).",
                    obj=name,
                    id="rowsync.E091",
                )
            )
    return errors


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
