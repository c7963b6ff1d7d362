"""Django-suite leg settings for PostgreSQL.

``ROWSYNC_DJSUITE_DB_NAME`` (set by ``scripts/django_suite.py``) makes the database names unique
to the run; ``ROWSYNC_PG_HOST``/``ROWSYNC_PG_PORT``/``ROWSYNC_PG_USER`` move the server.
"""

from __future__ import annotations

import os
from typing import Any

from rowsync_suite_settings import *  # noqa: F403
from rowsync_suite_settings import databases

_NAME = os.environ.get("ROWSYNC_DJSUITE_DB_NAME", "rowsync_djsuite")


def _postgresql(alias: str) -> dict[str, Any]:
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": f"{_NAME}_{alias}",
        "USER": os.environ.get("ROWSYNC_PG_USER", "postgres"),
        "HOST": os.environ.get("ROWSYNC_PG_HOST", "127.0.0.1"),
        "PORT": os.environ.get("ROWSYNC_PG_PORT", "5432"),
        "TEST": {"NAME": f"test_{_NAME}_{alias}"},
    }


DATABASES = databases(_postgresql("default"), _postgresql("other"))
