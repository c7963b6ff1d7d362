"""rowsync's post_migrate install never breaks ``migrate``, as Django's own receivers don't.

An app without migrations whose tables do not exist yet (no ``--run-syncdb``), and a
migration state where a relation is still a string (the user model of an app outside the
state), are skipped: rowsync installs what it can and leaves the rest to a later run.
"""

from __future__ import annotations

from tests.projects.builder import SHOP_MODELS

UNMIGRATED = """
ROWSYNC_CAPTURE = ["shop"]
ROWSYNC_DB_ON_DELETE = ["shop"]
MIGRATION_MODULES = {"shop": None}
"""

SHOP_WITH_USER = (
    SHOP_MODELS
    + """
from django.conf import settings


class Wishlist(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
"""
)


def test_migrate_skips_models_without_a_table(make_project):
    project = make_project(UNMIGRATED)
    result = project.manage("migrate", "sessions", check=False)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    # The app's tables come later (syncdb); then its objects are installed.
    project.manage("migrate", "--run-syncdb")
    out = project.python(
        """
        from django.db import connection
        from rowsync.ondelete.drift import differences
        print(len(differences("default")))
        """
    )
    assert out.split() == ["0"]


def test_migrate_survives_relations_left_as_strings(make_project):
    # (Capturing Wishlist would give auth.User objects on MariaDB: rowsync.E130.)
    project = make_project(
        UNMIGRATED.replace('ROWSYNC_CAPTURE = ["shop"]', ""), models=SHOP_WITH_USER
    )
    # sessions alone: the state lacks auth, so Wishlist.owner stays "auth.User".
    result = project.manage("migrate", "sessions", "--fake", check=False)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    result = project.manage("migrate", check=False)
    assert result.returncode == 0, result.stderr
