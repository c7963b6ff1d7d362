"""Django settings for rowsync's test suite (one database engine per leg)."""

from __future__ import annotations

import os

from tests.dbconfig import db_config

DB = os.environ.get("ROWSYNC_TEST_DB", "sqlite")  # sqlite|postgresql|mariadb

SECRET_KEY = "rowsync-tests"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
DATABASES = {"default": db_config(DB), "other": db_config(DB, "other")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "rowsync",
    "blog",
    "tests.testapp",
    "tests.odapp",
    "tests.evapp",
    "tests.ormapp",
    "tests.fuzzapp",
    "tests.swapp",
]
AUTH_USER_MODEL = "blog.UserInfo"
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "tests.urls"
MEDIA_ROOT = os.environ.get("ROWSYNC_TEST_MEDIA", "/tmp/rowsync-test-media")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Identity map: testapp's base-class models are mapped by IdentityModel; these by the setting.
ROWSYNC_IDENTITY_MAP = ["blog", "ormapp", "testapp.Note", "testapp.NoteProxy"]
# The example blog's migrations are made with its own settings: keep its rowsync
# selection identical here so the suite runs the same triggers (test_migrations_current).
ROWSYNC_CAPTURE = ["blog.Article"]
# The project-wide switch, on one app (tests/ondelete/test_switch_collection.py).
ROWSYNC_DB_ON_DELETE = ["swapp"]
# Generic notes point at contenttypes, an installed package; a generic owner's cascade
# would stay at the Python level anyway (rowsync.W112): both left to Django.
ROWSYNC_DB_ON_DELETE_EXCLUDE = ["swapp.GNote", "swapp.Doc"]
