"""rowsync as users meet it: the built wheel in a fresh venv and a fresh ``startproject``.

One venv per test session holds the wheel built from this checkout (not the editable install),
the leg's exact Django and the leg's database driver. For each documented setting value a new
project is made with ``django-admin startproject`` and ``startapp``, then ``makemigrations``,
``migrate``, ``check``, an ORM delete, a raw SQL delete and ``rowsync worker --drain`` run as
subprocesses. Every ``post_delete`` a receiver sees is written to a log in the project, so the
test counts expected / delivered / duplicated / lost rows. Nothing may be written outside the
project directory: the venv (which holds rowsync and Django) is snapshotted before and after.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import django
import pytest

ROOT = Path(__file__).resolve().parents[2]
ENGINE = os.environ.get("ROWSYNC_TEST_DB", "sqlite")
DRIVERS = {"sqlite": [], "postgresql": ["psycopg[binary]>=3.1"], "mariadb": ["mysqlclient>=2.2"]}

MODELS = """
from django.db import models


class Customer(models.Model):
    name = models.CharField(max_length=50)


class Order(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="orders")


class Tag(models.Model):
    label = models.CharField(max_length=20)


class Line(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    tag = models.ForeignKey(Tag, null=True, on_delete=models.SET_NULL)
"""

SIGNALS = """
import os

from django.conf import settings
from django.db.models.signals import post_delete


def _record(sender, instance, **kwargs):
    with open(os.path.join(settings.BASE_DIR, "deleted.log"), "a") as fh:
        fh.write(f"{sender._meta.label} {instance.pk}\\n")


def connect():
    from shop import models

    for model in (models.Customer, models.Order, models.Line):
        post_delete.connect(_record, sender=model, dispatch_uid=f"record-{model.__name__}")
"""

APPS = """
from django.apps import AppConfig


class ShopConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "shop"

    def ready(self):
        from shop import signals

        signals.connect()
"""

# Creates 2 customers x 3 orders x 2 lines; deletes customer 1 by the ORM and customer 2 by
# raw SQL from the same connection (the database cascades where rowsync enforces on_delete).
SCENARIO = """
import json
from django.db import connection, transaction
from shop.models import Customer, Line, Order, Tag

tag = Tag.objects.create(label="t")
expected = []
customers = []
for c in range(2):
    customer = Customer.objects.create(name=f"c{c}")
    customers.append(customer)
    expected.append(f"shop.Customer {customer.pk}")
    for o in range(3):
        order = Order.objects.create(customer=customer)
        expected.append(f"shop.Order {order.pk}")
        for _ in range(2):
            line = Line.objects.create(order=order, tag=tag)
            expected.append(f"shop.Line {line.pk}")
orm, raw = customers
with transaction.atomic():
    orm.delete()
raw_pks = [f"shop.Customer {raw.pk}"] + [
    f"shop.Order {pk}" for pk in Order.objects.filter(customer=raw).values_list("pk", flat=True)
] + [
    f"shop.Line {pk}"
    for pk in Line.objects.filter(order__customer=raw).values_list("pk", flat=True)
]
table = connection.ops.quote_name(Customer._meta.db_table)
try:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [raw.pk])
    raw_deleted = True
except Exception as exc:  # without database on_delete the foreign key refuses it
    raw_deleted = False
    print("raw delete refused:", type(exc).__name__)
if not raw_deleted:
    raw.delete()
print("SCENARIO", json.dumps({"expected": expected, "raw": raw_pks, "raw_deleted": raw_deleted}))
"""

# (id, settings lines, whether raw deletes are captured, whether the database cascades)
CONFIGS: list[tuple[str, str, bool]] = [
    ("installed-only", "", False),
    ("identity-all", 'ROWSYNC_IDENTITY_MAP = "__all__"', False),
    ("identity-app", 'ROWSYNC_IDENTITY_MAP = ["shop"]', False),
    (
        "ondelete-capture-app-transaction",
        'ROWSYNC_DB_ON_DELETE = ["shop"]\nROWSYNC_CAPTURE = ["shop"]',
        True,
    ),
    (
        "ondelete-capture-all-on-commit",
        'ROWSYNC_DB_ON_DELETE = "__all__"\nROWSYNC_CAPTURE = "__all__"\n'
        'ROWSYNC_DELIVERY = "on_commit"\nROWSYNC_MIGRATIONS_APP = "shop"',
        True,
    ),
    (
        "ondelete-capture-all-worker",
        'ROWSYNC_DB_ON_DELETE = "__all__"\nROWSYNC_CAPTURE = "__all__"\n'
        'ROWSYNC_DELIVERY = "worker"\nROWSYNC_MIGRATIONS_APP = "shop"',
        True,
    ),
    (
        "everything-all",
        'ROWSYNC_IDENTITY_MAP = "__all__"\nROWSYNC_DB_ON_DELETE = "__all__"\n'
        'ROWSYNC_CAPTURE = "__all__"\nROWSYNC_MIGRATIONS_APP = "shop"',
        True,
    ),
]


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {proc.returncode}\n--- stdout\n{proc.stdout}"
            f"\n--- stderr\n{proc.stderr}"
        )
    return proc.stdout + proc.stderr


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    # {relative path: (size, mtime_ns)}
    found: dict[str, tuple[int, int]] = {}
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(dirpath, name)
            st = path.lstat()
            found[str(path.relative_to(folder))] = (st.st_size, st.st_mtime_ns)
    return found


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel built from this checkout and the leg's Django."""
    base = tmp_path_factory.mktemp("wheel")
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE")
    }
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(base / "dist"),
            str(ROOT),
        ],
        cwd=base,
        env=env,
    )
    (wheel,) = (base / "dist").glob("django_rowsync-*.whl")
    python = getattr(sys, "_base_executable", sys.executable)
    _run([python, "-m", "venv", str(base / "venv")], cwd=base, env=env)
    pip = [str(base / "venv" / "bin" / "python"), "-m", "pip", "install", "-q"]
    _run(
        [*pip, str(wheel), f"Django=={django.get_version()}", *DRIVERS[ENGINE]], cwd=base, env=env
    )
    return base / "venv"


def _database_settings(name: str) -> str:
    if ENGINE == "sqlite":
        return (
            'DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",'
            ' "NAME": BASE_DIR / "db.sqlite3"}}'
        )
    from tests.dbconfig import db_config

    config = db_config(ENGINE)
    config["NAME"] = name
    config.pop("TEST", None)
    return f"DATABASES = {{'default': {config!r}}}"


def _create_database(name: str) -> None:
    from django.db import connection

    if ENGINE == "sqlite":
        return
    with connection._nodb_cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name}")
        cursor.execute(f"CREATE DATABASE {name}")


def _drop_database(name: str) -> None:
    from django.db import connection

    if ENGINE == "sqlite":
        return
    with connection._nodb_cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name}")


def _make_project(venv: Path, folder: Path, settings_lines: str, db_name: str) -> dict[str, str]:
    bin_ = venv / "bin"
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE")
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PATH"] = f"{bin_}:{env.get('PATH', '')}"
    folder.mkdir()
    _run([str(bin_ / "django-admin"), "startproject", "site_", "."], cwd=folder, env=env)
    _run([str(bin_ / "python"), "manage.py", "startapp", "shop"], cwd=folder, env=env)
    (folder / "shop" / "models.py").write_text(MODELS)
    (folder / "shop" / "signals.py").write_text(textwrap.dedent(SIGNALS))
    (folder / "shop" / "apps.py").write_text(APPS)
    settings = folder / "site_" / "settings.py"
    text = settings.read_text().replace(
        "INSTALLED_APPS = [", 'INSTALLED_APPS = [\n    "rowsync",\n    "shop",'
    )
    text += f"\n{_database_settings(db_name)}\n{settings_lines}\n"
    settings.write_text(text)
    return env


def _outcome(log: Path, expected: list[str]) -> dict[str, Any]:
    seen = collections.Counter(log.read_text().split("\n")[:-1] if log.exists() else [])
    want = collections.Counter(expected)
    return {
        "expected": len(want),
        "delivered": sum(min(seen[k], 1) for k in want),
        "duplicated": sum(max(n - 1, 0) for n in seen.values()),
        "lost": sum(1 for k in want if seen[k] == 0),
        "foreign": sorted(k for k in seen if k not in want),
    }


@pytest.mark.parametrize(
    ("name", "settings_lines", "captured"), CONFIGS, ids=[c[0] for c in CONFIGS]
)
def test_quick_start_in_a_fresh_project(
    venv: Path,
    tmp_path: Path,
    django_db_blocker: Any,
    name: str,
    settings_lines: str,
    captured: bool,
) -> None:
    db_name = f"rowsync_pkg_{uuid.uuid4().hex[:10]}"
    before = _snapshot(venv)
    project = tmp_path / "project"
    env = _make_project(venv, project, settings_lines, db_name)
    python = str(venv / "bin" / "python")
    with django_db_blocker.unblock():  # the server's own database, not the test database
        _create_database(db_name)
    try:
        _run([python, "manage.py", "makemigrations", "shop"], cwd=project, env=env)
        # makemigrations of every app must find nothing more to write (and write nowhere else)
        out = _run(
            [python, "manage.py", "makemigrations", "--check", "--dry-run"], cwd=project, env=env
        )
        assert "No changes detected" in out, out
        _run([python, "manage.py", "migrate", "-v", "0"], cwd=project, env=env)
        out = _run([python, "manage.py", "check", "--database", "default"], cwd=project, env=env)
        assert "no issues" in out, out
        out = _run([python, "manage.py", "shell", "-c", SCENARIO], cwd=project, env=env)
        facts = json.loads(out.split("SCENARIO ", 1)[1].splitlines()[0])
        _run(
            [python, "manage.py", "rowsync", "worker", "--drain"],
            cwd=project,
            env=env,
            timeout=120,
        )
        result = _outcome(project / "deleted.log", facts["expected"])
        print(name, ENGINE, json.dumps(result))
        assert result["lost"] == 0, result
        assert result["duplicated"] == 0, result
        assert result["foreign"] == [], result
        if captured:
            assert facts["raw_deleted"], "the database should cascade the raw delete"
    finally:
        with django_db_blocker.unblock():
            _drop_database(db_name)
    after = _snapshot(venv)
    changed = sorted(
        path for path in set(before) | set(after) if before.get(path) != after.get(path)
    )
    assert changed == [], f"files written outside the project: {changed[:20]}"
