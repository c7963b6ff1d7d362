"""Django-suite leg settings for SQLite (in-memory databases, as Django's ``test_sqlite.py``)."""

from __future__ import annotations

from rowsync_suite_settings import *  # noqa: F403
from rowsync_suite_settings import databases

DATABASES = databases(
    {"ENGINE": "django.db.backends.sqlite3"},
    {"ENGINE": "django.db.backends.sqlite3"},
)
