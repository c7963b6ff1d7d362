"""Installing rowsync changes nothing until a setting or a model choice switches it on.

Each test runs ``tests.plain.probe`` (a Django-only project: no ``ROWSYNC_*`` setting, no
rowsync ``DB_*`` value, no ``RowsyncMeta``) in a fresh interpreter, once without and once
with ``"rowsync"`` in ``INSTALLED_APPS``, and compares what Django did.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import django
import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Migration-time hooks: old migrations may hold rowsync objects whatever the settings
#: say now. The autodetector comes with the first migration that holds objects
#: (``test_migrations_holding_objects_prepare_django``); the SQLite rebuild guard goes in
#: only when a migration run meets objects, or a feature is switched on.
MIGRATION_TIME = {
    "receivers.post_migrate",
}

#: What each feature makes rowsync patch (``feature: target``), Django 6.1 additions apart.
SCHEMA = {
    "schema: django.core.management.commands.makemigrations.Command.autodetector",
    "schema: django.core.management.commands.migrate.Command.autodetector",
    "schema: django.core.management.commands.migrate.Command.check",
    "schema: django.db.migrations.state.DEFAULT_NAMES",
    "schema: django.db.models.options.DEFAULT_NAMES",
}
COLLECTOR = {"collector: django.db.models.deletion.Collector.delete"}
#: The on_delete feature's own hook: children of a project-wide CASCADE left to the database.
ONDELETE = {"ondelete: django.db.models.deletion.Collector.related_objects"}
ONDELETE_61 = {
    "ondelete: django.db.models.deletion.SKIP_COLLECTION",
    "ondelete: django.db.models.fields.related.ForeignKey._check_on_delete",
}
IDENTITY = {
    f"identity: django.{target}"
    for target in (
        "core.handlers.asgi.ASGIHandler.handle",
        "db.backends.base.base.BaseDatabaseWrapper.rollback",
        "db.backends.base.base.BaseDatabaseWrapper.savepoint",
        "db.backends.base.base.BaseDatabaseWrapper.savepoint_commit",
        "db.backends.base.base.BaseDatabaseWrapper.savepoint_rollback",
        "db.models.base.Model._save_table",
        "db.models.base.Model.from_db",
        "db.models.deletion.Collector.collect",
        "db.models.base.Model.refresh_from_db",
        "db.models.fields.related_descriptors.ForwardOneToOneDescriptor.get_object",
        "db.models.manager.BaseManagerFromQuerySet.get",
        "db.models.query.ModelIterable.__iter__",
        "db.models.query.QuerySet._prefetch_related_objects",
        "db.models.query.QuerySet._raw_delete",
        "db.models.query.QuerySet.bulk_create",
        "db.models.query.QuerySet.bulk_update",
        "db.models.query.QuerySet.get",
        "db.models.query.QuerySet.update",
        "db.models.query.get_prefetcher",
        "db.models.query.prefetch_related_objects",
        "db.models.sql.subqueries.DeleteQuery.delete_batch",
        "db.models.sql.subqueries.UpdateQuery.update_batch",
    )
}


def probe(tmp_path: Path, name: str, **settings: Any) -> dict[str, Any]:
    folder = tmp_path / name
    folder.mkdir()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")])
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [sys.executable, "-m", "tests.plain.probe", str(folder), json.dumps(settings)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return probe(tmp_path_factory.mktemp("plain"), "django")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return probe(tmp_path_factory.mktemp("installed"), "rowsync", INSTALLED_APPS_EXTRA=["rowsync"])


#: A project with Django's admin (what its system checks require).
ADMIN_PROJECT: dict[str, Any] = {
    "INSTALLED_APPS_EXTRA": [
        "django.contrib.sessions",
        "django.contrib.messages",
        "django.contrib.admin",
    ],
    "MIDDLEWARE": [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    ],
    "TEMPLATES": [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "APP_DIRS": True,
            "OPTIONS": {
                "context_processors": [
                    "django.template.context_processors.request",
                    "django.contrib.auth.context_processors.auth",
                    "django.contrib.messages.context_processors.messages",
                ]
            },
        }
    ],
}


def test_with_the_admin_only_the_console_is_added(tmp_path):
    alone = probe(tmp_path, "admin", **ADMIN_PROJECT)
    extra = [*ADMIN_PROJECT["INSTALLED_APPS_EXTRA"], "rowsync"]
    both = probe(tmp_path, "admin_rowsync", **{**ADMIN_PROJECT, "INSTALLED_APPS_EXTRA": extra})
    assert both["patches"] == []
    runtime = {k: v for k, v in alone["hooks"].items() if k not in MIGRATION_TIME}
    assert {k: both["hooks"][k] for k in runtime} == runtime
    assert both["operations"] == alone["operations"]
    assert set(both["admin"]) - set(alone["admin"]) == {"rowsync.deletedrow", "rowsync.deadletter"}
    assert set(alone["admin"]) <= set(both["admin"])


def test_installing_wraps_nothing(plain, installed):
    runtime = {k: v for k, v in plain["hooks"].items() if k not in MIGRATION_TIME}
    assert {k: installed["hooks"][k] for k in runtime} == runtime
    assert "rowsync" not in json.dumps(runtime)


def test_installing_applies_no_patch(installed):
    assert installed["patches"] == []


def _owned(patches: list[str]) -> set[str]:
    # The events subsystem's own patches (and SQLite's flush guard) are another
    # branch's to list; every other feature's must be exactly these.
    return {p for p in patches if not p.startswith("events:") and "sqlite" not in p}


def test_each_feature_applies_exactly_its_patches(tmp_path):
    on_delete = probe(
        tmp_path, "ondelete", INSTALLED_APPS_EXTRA=["rowsync"], ROWSYNC_DB_ON_DELETE=["auth"]
    )
    django_61 = ONDELETE_61 if django.VERSION >= (6, 1) else set()
    assert _owned(on_delete["patches"]) == COLLECTOR | ONDELETE | SCHEMA | django_61
    identity = probe(
        tmp_path, "identity", INSTALLED_APPS_EXTRA=["rowsync"], ROWSYNC_IDENTITY_MAP=["plainapp"]
    )
    assert _owned(identity["patches"]) == IDENTITY
    capture = probe(
        tmp_path,
        "capture",
        INSTALLED_APPS_EXTRA=["rowsync"],
        ROWSYNC_CAPTURE=["plainapp.Captured"],
    )
    assert _owned(capture["patches"]) == COLLECTOR | SCHEMA


PREPARE = """
import json, sys
from django.conf import settings
settings.configure(INSTALLED_APPS=["django.contrib.contenttypes", "rowsync"])
import django
django.setup()
import rowsync
from rowsync.schema import CompiledSQL, InstallDatabaseObject
before = [p.target for p in rowsync.patches_applied()]
# What the migration loader does when it reads a migration file that holds an object.
InstallDatabaseObject(model_name="m", obj=CompiledSQL("o", "sqlite", "t", ("x",), ("y",)))
print(json.dumps([before, [f"{p.feature}: {p.target}" for p in rowsync.patches_applied()]]))
"""


def test_migrations_holding_objects_prepare_django():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")])
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [sys.executable, "-c", PREPARE], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    before, after = json.loads(done.stdout)
    assert before == []
    assert set(after) == SCHEMA


def test_installing_changes_no_query_and_no_result(plain, installed):
    assert installed["operations"] == plain["operations"]


def test_makemigrations_unchanged(plain, installed):
    assert installed["makemigrations"] == plain["makemigrations"]
    assert "plainapp" in plain["makemigrations"]


@pytest.mark.skipif(django.VERSION < (6, 1), reason="models.DB_CASCADE is Django 6.1's")
def test_django_db_cascade_counts_are_djangos(plain, installed, tmp_path):
    assert plain["operations"]["db_cascade_left"] == [0, 0]  # the database did cascade
    assert installed["operations"]["db_cascade"] == plain["operations"]["db_cascade"]
    # rowsync switched on for other models leaves Django's DB_CASCADE to Django too.
    other = probe(
        tmp_path, "switched_on", INSTALLED_APPS_EXTRA=["rowsync"], ROWSYNC_DB_ON_DELETE=["auth"]
    )
    assert other["hooks"]["Collector.delete"] != plain["hooks"]["Collector.delete"]
    assert other["operations"]["db_cascade"] == plain["operations"]["db_cascade"]


#: Operations of the probe that touch no captured model.
UNCAPTURED = ("m2m_remove", "delete_nothing", "delete_order", "delete_customer", "db_cascade")


def test_capture_costs_nothing_for_deletes_it_cannot_record(plain, tmp_path):
    captured = probe(
        tmp_path,
        "capture",
        INSTALLED_APPS_EXTRA=["rowsync"],
        ROWSYNC_CAPTURE=["plainapp.Captured"],
    )
    assert captured["hooks"]["Collector.delete"] != plain["hooks"]["Collector.delete"]
    # Captured models have triggers: SQLite's rebuilds and flushes keep them.
    for hook in ("sqlite.SchemaEditorClass", "sqlite.execute_sql_flush"):
        assert captured["hooks"][hook] != plain["hooks"][hook], hook
    for name in UNCAPTURED:
        if name in plain["operations"]:
            assert captured["operations"][name] == plain["operations"][name], name
    # The captured model's delete still runs in a capture session.
    ops = captured["operations"]["captured_delete"]
    assert ops["result"] == plain["operations"]["captured_delete"]["result"]
    assert len(ops["sql"]) > len(plain["operations"]["captured_delete"]["sql"])
