"""Settings shared by the engine modules of the Django-suite leg (``scripts/django_suite.py``).

Django's ``tests/runtests.py`` replaces ``INSTALLED_APPS`` with its own
``ALWAYS_INSTALLED_APPS`` plus the test modules it runs, so listing ``"rowsync"`` here would
be lost. :func:`install_rowsync` extends that list instead, in whatever module runs
``runtests`` (``__main__`` when run as a script, ``__mp_main__`` in spawned workers).

The leg's configuration comes from the environment, set by ``scripts/django_suite.py``:

* ``ROWSYNC_DJSUITE_CONFIG``: ``installed`` | ``identity`` | ``ondelete`` | ``all``;
* ``ROWSYNC_DJSUITE_DELIVERY``: ``ROWSYNC_DELIVERY`` for ``ondelete`` and ``all``;
* ``ROWSYNC_DJSUITE_SILENCE``: comma-separated system check ids silenced for the leg only;
* ``ROWSYNC_DJSUITE_RESULTS``: where the runner writes the per-test outcomes (JSON).
"""

from __future__ import annotations

import os
import sys
from typing import Any

CONFIGS = ("installed", "identity", "ondelete", "all")
CONFIG = os.environ.get("ROWSYNC_DJSUITE_CONFIG", "installed")
if CONFIG not in CONFIGS:
    raise RuntimeError(f"ROWSYNC_DJSUITE_CONFIG must be one of {CONFIGS}, not {CONFIG!r}")


def install_rowsync() -> None:
    """Append ``"rowsync"`` to ``ALWAYS_INSTALLED_APPS`` of the running ``runtests`` module.

    Django reads the settings module in ``setup_collect_tests()`` just before it assigns
    ``settings.INSTALLED_APPS = ALWAYS_INSTALLED_APPS``, so extending the list in place here
    takes effect in the main process and in every parallel worker.
    """
    for name in ("__main__", "__mp_main__", "runtests"):
        module = sys.modules.get(name)
        apps = getattr(module, "ALWAYS_INSTALLED_APPS", None)
        if isinstance(apps, list):
            if "rowsync" not in apps:
                apps.append("rowsync")
            return
    raise RuntimeError("the Django-suite settings must be used by Django's tests/runtests.py")


install_rowsync()

# Django's own example settings of this version (runtests.py's directory is on sys.path):
# SECRET_KEY, PASSWORD_HASHERS, USE_TZ, and DEFAULT_AUTO_FIELD where the version sets it.
from test_sqlite import *  # type: ignore[import-not-found]  # noqa: E402, F403

TEST_RUNNER = "rowsync_suite_runner.RecordingRunner"

SILENCED_SYSTEM_CHECKS = [
    check_id for check_id in os.environ.get("ROWSYNC_DJSUITE_SILENCE", "").split(",") if check_id
]
# runtests.py overwrites SILENCED_SYSTEM_CHECKS with its own list; the runner adds these back.
DJSUITE_SILENCED = list(SILENCED_SYSTEM_CHECKS)

if CONFIG in ("identity", "all"):
    ROWSYNC_IDENTITY_MAP = "__all__"
if CONFIG in ("ondelete", "all"):
    ROWSYNC_DB_ON_DELETE = "__all__"
    ROWSYNC_CAPTURE = "__all__"
    # Django's contrib apps are installed packages with migrations of their own: their
    # objects would need ROWSYNC_MIGRATIONS_APP (rowsync.E130). Django's test apps, which
    # the suite migrates without migration files, are switched on.
    CONTRIB = ["admin", "auth", "contenttypes", "sessions", "sites", "messages"]
    ROWSYNC_DB_ON_DELETE_EXCLUDE = CONTRIB
    ROWSYNC_CAPTURE_EXCLUDE = CONTRIB
    ROWSYNC_DELIVERY = os.environ.get("ROWSYNC_DJSUITE_DELIVERY", "transaction")


def databases(default: dict[str, Any], other: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return ``DATABASES`` with the two aliases Django's test suite uses."""
    return {"default": default, "other": other}
