"""Database settings for the test legs and the benchmarks.

``ROWSYNC_TEST_DB`` picks the engine (sqlite, postgresql, mariadb) and
``ROWSYNC_TEST_DB_SUFFIX`` keeps concurrent runs apart (each leg gets its own databases).
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

ENGINES = ("sqlite", "postgresql", "mariadb")


def db_config(engine: str, alias: str = "default") -> dict[str, Any]:
    suffix = os.environ.get("ROWSYNC_TEST_DB_SUFFIX", "local")
    name = f"rowsync_{suffix}_{alias}"
    if engine == "sqlite":
        # File databases (not :memory:) so threads, other connections and worker
        # processes see the same data.
        folder = os.environ.get("ROWSYNC_TEST_SQLITE_DIR", tempfile.gettempdir())
        path = os.path.join(folder, f"{name}.sqlite3")
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path,
            "TEST": {"NAME": os.path.join(folder, f"test_{name}.sqlite3")},
        }
    if engine == "postgresql":
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": os.environ.get("ROWSYNC_PG_USER", "postgres"),
            "HOST": os.environ.get("ROWSYNC_PG_HOST", "127.0.0.1"),
            "PORT": os.environ.get("ROWSYNC_PG_PORT", "5432"),
            "TEST": {"NAME": f"test_{name}"},
        }
    if engine == "mariadb":
        return {
            "ENGINE": "django.db.backends.mysql",
            "NAME": name,
            "USER": os.environ.get("ROWSYNC_MYSQL_USER", "root"),
            "PASSWORD": os.environ.get("ROWSYNC_MYSQL_PASSWORD", ""),
            "HOST": os.environ.get("ROWSYNC_MYSQL_HOST", "127.0.0.1"),
            "PORT": os.environ.get("ROWSYNC_MYSQL_PORT", "3306"),
            "OPTIONS": {"charset": "utf8mb4"},
            "TEST": {"NAME": f"test_{name}", "CHARSET": "utf8mb4"},
        }
    raise ValueError(f"unknown ROWSYNC_TEST_DB {engine!r}; choose one of {ENGINES}")
