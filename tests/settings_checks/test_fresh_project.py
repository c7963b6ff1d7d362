"""A fresh project switches everything on with "__all__": check, makemigrations, migrate, delete.

The project runs in subprocesses (its own settings, its own database on this leg's engine),
the way a user meets rowsync after ``startproject``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tests.dbconfig import db_config

ROOT = Path(__file__).resolve().parents[2]
ROWSYNC_MIGRATIONS = ROOT / "src" / "rowsync" / "migrations"

MODELS = """
from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.db import models


def no_order():
    return None


class Shop(models.Model):
    name = models.CharField(max_length=20)


class Order(models.Model):
    shop = models.ForeignKey(Shop, models.CASCADE)


class Line(models.Model):
    order = models.ForeignKey(Order, models.CASCADE)


class Coupon(models.Model):
    order = models.ForeignKey(Order, models.SET(no_order), null=True)


class Loose(models.Model):
    shop = models.ForeignKey(Shop, models.CASCADE, db_constraint=False)


class Tagged(models.Model):
    shop = models.ForeignKey(Shop, models.CASCADE)
    marks = GenericRelation("Mark")


class Mark(models.Model):
    content_type = models.ForeignKey(ContentType, models.CASCADE)
    object_id = models.PositiveIntegerField()
    target = GenericForeignKey()


class Venue(models.Model):
    name = models.CharField(max_length=20)


class Stand(Venue):
    shop = models.ForeignKey(Shop, models.CASCADE)
"""

SETTINGS = """
import json, os
SECRET_KEY = "fresh"
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.contenttypes", "django.contrib.auth", "rowsync", "shop",
]
DATABASES = {"default": json.loads(os.environ["FRESH_DATABASE"])}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ROWSYNC_DB_ON_DELETE = "__all__"
ROWSYNC_CAPTURE = "__all__"
ROWSYNC_IDENTITY_MAP = "__all__"
ROWSYNC_DELIVERY = "worker"
# Django's own apps keep their migrations in Django's package: leave them out. Capturing
# Mark would put a trigger on django_content_type where foreign key actions fire none
# (MariaDB), so Mark is left out too; so is Stand, as rowsync cannot yet capture a
# multi-table inheritance child (its row image would read its parent's columns).
ROWSYNC_DB_ON_DELETE_EXCLUDE = ["contenttypes", "auth"]
ROWSYNC_CAPTURE_EXCLUDE = ["contenttypes", "auth", "shop.Mark", "shop.Stand"]
"""

SCENARIO = """
from django.db import connection
from shop.models import Coupon, Line, Loose, Mark, Order, Shop, Stand, Tagged, Venue

shop = Shop.objects.create(name="s")
order = Order.objects.create(shop=shop)
Line.objects.create(order=order)
coupon = Coupon.objects.create(order=order)
Loose.objects.create(shop=shop)
tagged = Tagged.objects.create(shop=shop)
Mark.objects.create(target=tagged)
Stand.objects.create(shop=shop, name="v")
orm_order = order.pk
shop.delete()
coupon.refresh_from_db()
left = {
    m.__name__: m.objects.count()
    for m in (Shop, Order, Line, Loose, Tagged, Mark, Stand, Venue)
}
print("LEFT", left, "COUPON", coupon.order_id)
print("ORM", orm_order)
# Raw SQL: the database runs what it enforces.
shop = Shop.objects.create(name="raw")
order = Order.objects.create(shop=shop)
Line.objects.create(order=order)
with connection.cursor() as cursor:
    cursor.execute("DELETE FROM shop_line")
print("RAW", order.pk)
"""

RECEIVERS = """
import os

from django.db.models.signals import post_delete
from django.dispatch import receiver

from shop.models import Line


@receiver(post_delete, sender=Line)
def note(sender, instance, **kwargs):
    with open(os.environ["FRESH_RECEIPTS"], "a") as receipts:
        receipts.write(f"{instance.order_id}\\n")
"""


def _run(project: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.fixture
def fresh_database(tmp_path, django_db_blocker):
    """Return the settings of an empty database of this leg's engine; drop it afterwards."""
    engine = {"sqlite": "sqlite", "postgresql": "postgresql", "mysql": "mariadb"}[
        connection.vendor
    ]
    config = db_config(engine, "fresh")
    config.pop("TEST", None)
    if engine == "sqlite":
        config["NAME"] = str(tmp_path / "fresh.sqlite3")
        yield config
        return
    name = connection.ops.quote_name(config["NAME"])
    with django_db_blocker.unblock(), connection._nodb_cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name}")
        cursor.execute(f"CREATE DATABASE {name}")
    yield config
    with django_db_blocker.unblock(), connection._nodb_cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name}")


def test_fresh_project_runs_with_everything_switched_on(tmp_path, fresh_database):
    project = tmp_path / "project"
    (project / "shop" / "migrations").mkdir(parents=True)
    (project / "shop" / "__init__.py").write_text("")
    (project / "shop" / "migrations" / "__init__.py").write_text("")
    (project / "shop" / "models.py").write_text(MODELS)
    (project / "shop" / "receivers.py").write_text(RECEIVERS)
    (project / "fresh_settings.py").write_text(SETTINGS)
    (project / "manage.py").write_text(
        "import sys\nfrom django.core.management import execute_from_command_line\n"
        "execute_from_command_line(sys.argv)\n"
    )
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "fresh_settings"
    env["PYTHONPATH"] = os.pathsep.join([str(project), str(ROOT / "src")])
    env["FRESH_DATABASE"] = json.dumps(fresh_database)
    receipts = tmp_path / "receipts.txt"
    env["FRESH_RECEIPTS"] = str(receipts)
    before = sorted(p.name for p in ROWSYNC_MIGRATIONS.iterdir())

    checked = _run(project, env, "check")
    for warning in ("W110", "W111", "W112", "W113", "W114"):
        assert f"rowsync.{warning}" in checked
    # Nothing is captured or switched in rowsync's own app.
    assert "No changes detected" in _run(
        project, env, "makemigrations", "rowsync", "--check", "--dry-run"
    )
    planned = _run(project, env, "makemigrations", "shop", "--dry-run")
    assert "Migrations for 'shop'" in planned
    assert planned.count("Migrations for") == 1, planned  # nothing for an installed package
    # What the database cannot do stays out of the migration (Tagged: the migration
    # state knows no GenericRelation, the installed model does).
    for python_level in ("order", "coupon", "loose", "tagged"):
        assert f"ondelete trigger rowsync_od_shop_{python_level}_" not in planned
    assert "ondelete trigger rowsync_od_shop_line_" in planned
    _run(project, env, "makemigrations", "shop")
    assert sorted(p.name for p in ROWSYNC_MIGRATIONS.iterdir()) == before
    _run(project, env, "migrate")

    out = _run(project, env, "shell", "-c", SCENARIO)
    left = out.split("LEFT ", 1)[1].split(" COUPON", 1)[0]
    assert json.loads(left.replace("'", '"')) == {
        "Shop": 0,
        "Order": 0,
        "Line": 0,
        "Loose": 0,
        "Tagged": 0,
        "Mark": 0,
        "Stand": 0,
        "Venue": 0,
    }
    assert "COUPON None" in out
    raw_order = out.split("RAW ", 1)[1].split()[0]
    orm_order = out.split("ORM ", 1)[1].split()[0]
    # The receiver lives in the worker only: the ORM delete's process has none for Line, so
    # Django fast-deletes those rows and signals nothing; the worker delivers both deletes'
    # events and deletes them. Deleting rowsync's own rows records nothing, so draining
    # ends, and a second drain finds nothing.
    drain = ("rowsync", "worker", "--drain", "--progress", "0", "--import", "shop.receivers")
    _run(project, env, *drain)
    assert sorted(receipts.read_text().split()) == sorted([orm_order, raw_order])
    _run(project, env, *drain)
    assert sorted(receipts.read_text().split()) == sorted([orm_order, raw_order])
    count = "from rowsync.models import DeletedRow; print('EVENTS', DeletedRow.objects.count())"
    assert "EVENTS 0" in _run(project, env, "shell", "-c", count)
