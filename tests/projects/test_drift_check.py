"""The drift check (rowsync.E040) covers capture objects, gives the right hint, and never
refuses ``migrate``: Django runs the database checks before it, and ``migrate`` is what
installs missing objects (or reports the changes that still need ``makemigrations``).
"""

from __future__ import annotations

CAPTURE = 'ROWSYNC_CAPTURE = ["shop"]\n'

DROP_CAPTURE_TRIGGER = """
from django.db import connection
from rowsync.schema import uninstall_objects
from rowsync.schema import desired_objects
from shop.models import Order
triggers = [o for o in desired_objects(Order, (connection.vendor,)) if o.kind == "trigger"]
uninstall_objects(connection, triggers)
print(triggers[0].name)
"""


def test_missing_capture_trigger_is_drift_and_migrate_reinstalls_it(make_project):
    project = make_project(CAPTURE)
    project.manage("makemigrations")
    project.manage("migrate")
    name = project.python(DROP_CAPTURE_TRIGGER).split()[-1]
    assert name.startswith("rowsync_c")
    result = project.manage("check", "--database", "default", check=False)
    assert result.returncode != 0
    assert "rowsync.E040" in result.stderr
    assert name in result.stderr
    assert "Run migrate" in result.stderr
    assert "makemigrations" not in result.stderr  # its migration is there already
    assert name in project.manage("rowsync", "check", check=False).stdout
    # migrate is not refused by the check it satisfies.
    project.manage("migrate")
    project.manage("check", "--database", "default")
    assert "no drift" in project.manage("rowsync", "check").stdout


def test_migrate_is_not_refused_by_a_change_without_migration(make_project):
    project = make_project(CAPTURE)
    project.manage("makemigrations")
    project.manage("migrate")
    project.write_settings(CAPTURE + 'ROWSYNC_DB_ON_DELETE = ["shop"]\n')
    result = project.manage("migrate", check=False)
    assert result.returncode == 0, result.stderr
    # Django's own notice, with rowsync's objects counted as changes.
    assert "makemigrations" in result.stdout
    result = project.manage("check", "--database", "default", check=False)
    assert "rowsync.E040" in result.stderr
    assert "Run makemigrations, then migrate" in result.stderr
    project.manage("makemigrations")
    project.manage("migrate")
    project.manage("check", "--database", "default")
