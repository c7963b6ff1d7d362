"""Migrations: makemigrations detects, sqlmigrate shows, migrate applies and reverses."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.test import override_settings

from rowsync.backends import SQLiteBackend
from rowsync.schema import (
    InstallDatabaseObject,
    app_has_migrations,
    desired_objects,
    ensure_app_objects,
    install_objects,
    installed_objects,
    uninstall_objects,
)

MIGRATION = Path(__file__).parent.parent / "odapp" / "migrations" / "0001_initial.py"


def odapp_objects(vendor=None):
    vendor = vendor or connection.vendor
    found = []
    for model in apps.get_app_config("odapp").get_models():
        found.extend(desired_objects(model, (vendor,)))
    return found


@pytest.mark.django_db
def test_makemigrations_has_nothing_new():
    out = io.StringIO()
    call_command("makemigrations", "odapp", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db
def test_makemigrations_detects_the_setting():
    out = io.StringIO()
    # A third-party app (django.contrib.auth) switches without editing its models; its
    # objects go into the migrations of a project app, never into the installed package.
    with override_settings(
        ROWSYNC_DB_ON_DELETE=["auth.Permission"], ROWSYNC_MIGRATIONS_APP="odapp"
    ):
        call_command("makemigrations", "odapp", "--dry-run", "-v", "3", stdout=out)
    text = out.getvalue()
    assert "Migrations for 'auth'" not in text
    assert "InstallDatabaseObject" in text
    assert "app_label='auth'" in text
    assert "rowsync_od_auth_permission_" in text
    # Permission rows can now be deleted by the database: the auto-created through
    # tables that point at them follow (chain).
    assert "rowsync_od_auth_group_permissions_" in text


@pytest.mark.django_db(transaction=True)
def test_sqlmigrate_shows_this_engines_sql():
    out = io.StringIO()
    call_command("sqlmigrate", "odapp", "0001", stdout=out)
    sql = out.getvalue()
    expected = {
        "sqlite": 'CREATE TRIGGER "rowsync_od_odapp_book_',
        "postgresql": 'ADD CONSTRAINT "rowsync_od_odapp_book_',
        "mysql": "ADD CONSTRAINT `rowsync_od_odapp_book_",
    }[connection.vendor]
    assert expected in sql
    other = {"sqlite": "`rowsync_od", "postgresql": "`rowsync_od", "mysql": 'TRIGGER "rowsync'}
    assert other[connection.vendor] not in sql


@pytest.mark.django_db
def test_migration_freezes_sql(monkeypatch):
    """Changing a template changes new migrations only; the old one keeps its SQL."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    migration = loader.get_migration("odapp", "0001_initial")
    frozen = [op.obj for op in migration.operations if isinstance(op, InstallDatabaseObject)]
    assert frozen and all(obj.install_sql for obj in frozen)
    assert 'CREATE TRIGGER "rowsync_od_odapp_book_' in MIGRATION.read_text()

    original = SQLiteBackend.on_delete_sql

    def changed(self, spec):
        result = original(self, spec)
        if result is None:
            return None
        kind, install, uninstall = result
        return (
            kind,
            [sql.replace("FOR EACH ROW", "FOR EACH ROW /* v2 */") for sql in install],
            uninstall,
        )

    monkeypatch.setattr(SQLiteBackend, "on_delete_sql", changed)
    again = MigrationLoader(None, ignore_no_migrations=True).get_migration("odapp", "0001_initial")
    assert [op.obj for op in again.operations if isinstance(op, InstallDatabaseObject)] == frozen
    out = io.StringIO()
    call_command("makemigrations", "odapp", "--dry-run", "-v", "3", stdout=out)
    assert "RemoveDatabaseObject" in out.getvalue() and "/* v2 */" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_migrate_reverses_and_reapplies():
    names = {o.name for o in odapp_objects()}
    assert names <= set(installed_objects(connection))
    call_command("migrate", "odapp", "zero", verbosity=0)
    try:
        assert not names & set(installed_objects(connection))
    finally:
        call_command("migrate", "odapp", verbosity=0)
    assert names <= set(installed_objects(connection))


@pytest.mark.django_db(transaction=True)
def test_post_migrate_reinstalls_missing_and_unmigrated_apps():
    objects = odapp_objects()
    uninstall_objects(connection, objects[:2])
    assert not {o.name for o in objects[:2]} & set(installed_objects(connection))
    # A migrated app gets back what its migration state records...
    installed = ensure_app_objects(
        connection, "odapp", MigrationLoader(connection).project_state().apps
    )
    assert {o.name for o in installed} == {o.name for o in objects[:2]}
    # ... an app without migrations (--nomigrations) gets what its models want.
    uninstall_objects(connection, objects[:1])
    with override_settings(MIGRATION_MODULES={"odapp": None}):
        assert not app_has_migrations("odapp")
        installed = ensure_app_objects(connection, "odapp", apps)
    assert [o.name for o in installed] == [objects[0].name]
    assert install_objects(connection, objects) == []
