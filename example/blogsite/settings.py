"""Settings of the example blog. SQLite by default; ``ROWSYNC_DEMO_DB`` picks another engine."""

from __future__ import annotations

import os
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR.parent))  # so tests.dbconfig is importable

from tests.dbconfig import db_config  # noqa: E402

SECRET_KEY = "rowsync-example-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"

_engine = os.environ.get("ROWSYNC_DEMO_DB", "sqlite")
if _engine == "sqlite":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("ROWSYNC_DEMO_SQLITE", str(BASE_DIR / "demo.sqlite3")),
        }
    }
else:
    os.environ.setdefault("ROWSYNC_TEST_DB_SUFFIX", "demo")
    DATABASES = {"default": db_config(_engine)}

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "rowsync",
    "blog",
]
AUTH_USER_MODEL = "blog.UserInfo"
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "blogsite.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
MEDIA_ROOT = str(BASE_DIR / "media")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- capture ---
# Record the articles the database deletes, so the post_delete receivers of
# blog/receivers.py (files, cache, audit) still run for them.
ROWSYNC_CAPTURE = ["blog.Article"]
# One instance per row for the whole blog app (docs/identity.md).
ROWSYNC_IDENTITY_MAP = ["blog"]
ROWSYNC_DELIVERY = "transaction"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
