"""Test-suite wiring: leg report, database probe, feature gating.

A database leg that cannot connect is skipped on a laptop and fails under ``CI=true``.
"""

from __future__ import annotations

import os
import platform
from typing import Any

import django
import pytest


def pytest_report_header(config: pytest.Config) -> str:
    from django.conf import settings

    return (
        f"rowsync leg: python {platform.python_version()} x django {django.get_version()} "
        f"x {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}"
    )


def _probe(alias: str) -> str | None:
    from django.db import connections

    if connections[alias].vendor == "sqlite":
        return None  # a file database: always reachable
    # The leg's own database may not exist yet (pytest-django creates test_<name>), so
    # probe the server through Django's "no database" connection.
    try:
        with connections[alias]._nodb_cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any failure means "cannot run this leg"
        return f"{type(exc).__name__}: {exc}"
    return None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requires(feature): backend feature gate")


@pytest.fixture(scope="session", autouse=True)
def _database_reachable(django_db_blocker: Any) -> None:
    with django_db_blocker.unblock():
        problem = _probe("default")
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.exit(f"database leg cannot run under CI=true: {problem}", returncode=3)
    pytest.skip(f"database not reachable: {problem}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from django.db import connection

    from rowsync.backends import get_backend

    backend_cls = type(get_backend(connection))
    for item in items:
        for marker in item.iter_markers("requires"):
            for feature in marker.args:
                if not getattr(backend_cls, feature, False):
                    item.add_marker(
                        pytest.mark.skip(reason=f"{backend_cls.vendor} lacks {feature}")
                    )
