"""makemigrations never writes into an installed package (Django's contrib apps, rowsync).

The objects of installed packages' models go into the migrations of the project app named
by ROWSYNC_MIGRATIONS_APP; without it the configuration is refused by rowsync.E130.
"""

from __future__ import annotations

import pytest

from tests.projects.builder import DJANGO, SRC, snapshot

ALL = """
ROWSYNC_DB_ON_DELETE = "__all__"
ROWSYNC_CAPTURE = "__all__"
"""


def installed(project):
    """Every file of the installed packages: the private copies and the shared originals."""
    return snapshot(project.packages, DJANGO / "contrib", SRC / "rowsync")


def written_outside(project, before):
    after = installed(project)
    return sorted(p for p in after.keys() | before.keys() if after.get(p) != before.get(p))


@pytest.mark.parametrize("selection", [["auth"], "__all__"])
def test_makemigrations_refuses_without_a_migrations_app(make_project, selection):
    project = make_project(f"ROWSYNC_DB_ON_DELETE = {selection!r}\n")
    before = installed(project)
    result = project.manage("makemigrations", check=False)
    assert result.returncode != 0
    assert "rowsync.E130" in result.stderr
    assert "ROWSYNC_MIGRATIONS_APP" in result.stderr
    assert "'auth'" in result.stderr
    # Even with the checks skipped, nothing lands in an installed package.
    result = project.manage("makemigrations", "--skip-checks", check=False)
    assert written_outside(project, before) == []
    assert result.returncode == 0, result.stderr


def test_objects_of_installed_packages_go_into_the_migrations_app(make_project):
    project = make_project(ALL + 'ROWSYNC_MIGRATIONS_APP = "shop"\n')
    before = installed(project)
    project.manage("makemigrations")
    assert written_outside(project, before) == []
    migrations = sorted((project.root / "shop" / "migrations").glob("0*.py"))
    text = "\n".join(path.read_text() for path in migrations)
    assert "app_label='auth'" in text
    assert "rowsync_od_auth_user_groups_" in text
    assert "rowsync_cd_auth_user_" in text
    # rowsync's own event table is never captured (its deletes would record events forever).
    assert "rowsync_cd_rowsync_" not in text
    # The migration follows the latest migration of every app whose models it names.
    out = project.python(
        """
        from django.db.migrations.loader import MigrationLoader
        from rowsync.schema import InstallDatabaseObject
        loader = MigrationLoader(None)
        leaves = dict(loader.graph.leaf_nodes())
        for (app, name), migration in sorted(loader.disk_migrations.items()):
            if app == "shop":
                for op in migration.operations:
                    if isinstance(op, InstallDatabaseObject) and op.app_label:
                        target = (op.app_label, leaves[op.app_label])
                        print(op.app_label, target in migration.dependencies)
        """
    )
    follows = set(out.split("\n")) - {""}
    assert {"auth True", "contenttypes True", "sessions True"} <= follows
    assert not any(line.endswith("False") for line in follows)
    project.manage("migrate")
    assert written_outside(project, before) == []
    assert "no drift" in project.manage("rowsync", "check").stdout
    # The database now enforces auth's on_delete: a user's group links go with the user.
    out = project.python(
        """
        from django.contrib.auth.models import Group, User
        from django.db import connection
        user = User.objects.create(username="u")
        user.groups.add(Group.objects.create(name="g"))
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM auth_user")
        print(User.groups.through.objects.count())
        """
    )
    assert out.split()[-1] == "0"
    # Nothing left to make; leaving auth out again removes its objects, in shop too.
    check = project.manage("makemigrations", "--check", "--dry-run", check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    project.write_settings('ROWSYNC_DB_ON_DELETE = ["shop"]\nROWSYNC_MIGRATIONS_APP = "shop"\n')
    project.manage("makemigrations")
    project.manage("migrate")
    assert written_outside(project, before) == []
    assert "no drift" in project.manage("rowsync", "check").stdout


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("'nosuchapp'", "rowsync.E131"),
        ("'auth'", "rowsync.E132"),
        ("'shop'\nMIGRATION_MODULES = {'shop': None}", "rowsync.E133"),
    ],
)
def test_migrations_app_must_be_an_app_of_the_project(make_project, value, code):
    project = make_project(f"ROWSYNC_MIGRATIONS_APP = {value}\n")
    result = project.manage("check", check=False)
    assert result.returncode != 0
    assert code in result.stderr


SHOP_WITH_USER = """
from django.conf import settings
from django.db import models


class Wishlist(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
"""


def test_capture_below_an_installed_package_needs_no_migrations_app(make_project):
    # Only shop is switched on: the database cascades from auth_user into shop_wishlist.
    # Where FK actions fire no triggers (MariaDB), capturing Wishlist needs a trigger on
    # auth_user; it exists for Wishlist's sake, so shop's migrations hold it.
    project = make_project(
        'ROWSYNC_CAPTURE = ["shop"]\nROWSYNC_DB_ON_DELETE = ["shop"]\n', models=SHOP_WITH_USER
    )
    before = installed(project)
    result = project.manage("check", check=False)
    assert result.returncode == 0, result.stderr
    assert "rowsync.E130" not in result.stderr
    project.manage("makemigrations")
    assert written_outside(project, before) == []
    migrations = sorted((project.root / "shop" / "migrations").glob("0*.py"))
    text = "\n".join(path.read_text() for path in migrations)
    assert "rowsync_cc_auth_user_" in text  # MariaDB's trigger on the parent table
    assert "app_label='auth'" not in text  # owned by shop.Wishlist, not by auth.User
    project.manage("migrate")
    assert written_outside(project, before) == []
    assert "no drift" in project.manage("rowsync", "check").stdout
    # A raw delete of a user cascades in the database and the wishlist row is recorded.
    out = project.python(
        """
        from django.contrib.auth.models import User
        from django.db import connection, transaction
        from rowsync.events import inbox
        from rowsync.models import DeletedRow
        from shop.models import Wishlist
        Wishlist.objects.create(owner=User.objects.create(username="u"))
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM auth_user")
        with transaction.atomic():
            inbox.move_free("default", 10**9)  # engines with inbox tables
        events = DeletedRow.objects.filter(model_label="shop.wishlist")
        print(Wishlist.objects.count(), events.count())
        """
    )
    assert out.split()[-2:] == ["0", "1"]
    check = project.manage("makemigrations", "--check", "--dry-run", check=False)
    assert check.returncode == 0, check.stdout + check.stderr
