"""``migrate rowsync zero`` removes rowsync cleanly, and never drops undelivered events silently.

The step-by-step removal of docs/uninstall.md is followed to the end: rowsync out of
INSTALLED_APPS and ``migrate`` still works.
"""

from __future__ import annotations

from tests.projects.builder import strip_rowsync

CAPTURE = """
ROWSYNC_CAPTURE = ["shop"]
ROWSYNC_DB_ON_DELETE = ["shop"]
ROWSYNC_DELIVERY = "worker"
"""

# Rows deleted by the database (raw SQL): their events wait for the worker.
DELETE_BY_SQL = """
from django.db import connection
from shop.models import Customer, Order
for n in range(2):
    Order.objects.create(customer=Customer.objects.create(name=str(n)))
with connection.cursor() as cursor:
    cursor.execute("DELETE FROM shop_customer")
"""

# What rowsync left in the database: its tables, objects and migration records.
LEFTOVERS = """
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from rowsync.schema import installed_objects
tables = [t for t in connection.introspection.table_names() if t.startswith("rowsync")]
applied = [n for app, n in MigrationRecorder(connection).applied_migrations() if app == "rowsync"]
print(sorted(tables), sorted(installed_objects(connection)), applied)
"""


def test_zero_refuses_while_events_wait(make_project):
    project = make_project(CAPTURE)
    project.manage("makemigrations")
    project.manage("migrate")
    project.python(DELETE_BY_SQL)
    result = project.manage("migrate", "rowsync", "zero", check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "CommandError" in result.stderr
    assert "4 undelivered events" in result.stderr
    assert "manage.py rowsync worker --drain" in result.stderr
    assert "ROWSYNC_UNINSTALL_DISCARD_EVENTS" in result.stderr
    # Nothing was unapplied.
    assert "[ ]" not in project.manage("showmigrations", "rowsync", "shop").stdout
    project.manage("rowsync", "worker", "--drain")
    result = project.manage("migrate", "rowsync", "zero", check=False)
    assert result.returncode == 0, result.stderr
    assert project.python(LEFTOVERS).split("\n")[-2] == "[] [] []"


def test_zero_discards_events_when_told(make_project):
    project = make_project(CAPTURE)
    project.manage("makemigrations")
    project.manage("migrate")
    project.python(DELETE_BY_SQL)
    project.write_settings(CAPTURE + "ROWSYNC_UNINSTALL_DISCARD_EVENTS = True\n")
    result = project.manage("migrate", "rowsync", "zero", check=False)
    assert result.returncode == 0, result.stderr
    assert project.python(LEFTOVERS).split("\n")[-2] == "[] [] []"


def test_zero_removes_the_objects_of_apps_that_stay(make_project):
    # on_delete objects alone name no rowsync table: shop's migration does not depend on
    # rowsync's, so unapplying rowsync leaves shop applied and must take its objects away.
    project = make_project('ROWSYNC_DB_ON_DELETE = ["shop"]\n')
    project.manage("makemigrations")
    project.manage("migrate")
    project.manage("migrate", "rowsync", "zero")
    assert project.python(LEFTOVERS).split("\n")[-2] == "[] [] []"
    assert "[X] 0001_initial" in project.manage("showmigrations", "shop").stdout
    # Applying rowsync again puts them back.
    project.manage("migrate")
    assert "no drift" in project.manage("rowsync", "check").stdout


def test_uninstall_step_by_step(make_project):
    project = make_project(CAPTURE)
    project.manage("makemigrations")
    project.manage("migrate")
    project.python(DELETE_BY_SQL)
    project.python("from shop.models import Customer; Customer.objects.create(name='kept')")
    # 1. Deliver what waits.
    project.manage("rowsync", "worker", "--drain")
    # 2. Stop asking rowsync for objects; migrate removes them.
    project.write_settings()
    project.manage("makemigrations")
    project.manage("migrate")
    # 3. Take rowsync out of the project's migrations.
    for path in (project.root / "shop" / "migrations").glob("0*.py"):
        strip_rowsync(path)
    check = project.manage("makemigrations", "--check", "--dry-run", check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    # 4. Unapply rowsync's own migrations.
    project.manage("migrate", "rowsync", "zero")
    assert project.python(LEFTOVERS).split("\n")[-2] == "[] [] []"
    # 5. Remove rowsync from INSTALLED_APPS.
    project.write_settings('INSTALLED_APPS.remove("rowsync")\n')
    project.manage("migrate")
    project.manage("check")
    out = project.python("from shop.models import Customer; print(Customer.objects.count())")
    assert out.split() == ["1"]
