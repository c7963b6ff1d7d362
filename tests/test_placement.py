"""Where makemigrations puts rowsync objects: rowsync.schema.placement's edge cases."""

from __future__ import annotations

from pathlib import Path

from django.apps import apps

from rowsync.schema import placement

ROOT = Path(__file__).resolve().parent.parent


def test_an_explicit_migrations_package_is_its_own_folder(settings):
    settings.MIGRATION_MODULES = {"testapp": "tests.plain"}
    assert placement.package_folder(apps.get_app_config("testapp")) == ROOT / "tests" / "plain"


def test_a_migrations_module_still_to_create_lives_in_its_nearest_package(settings):
    settings.MIGRATION_MODULES = {"testapp": "tests.testapp.not_yet.migrations"}
    folder = placement.package_folder(apps.get_app_config("testapp"))
    assert folder == ROOT / "tests" / "testapp"


def test_a_folder_that_cannot_be_resolved_contains_nothing():
    assert placement._under(ROOT, "bad\0path") is False


def test_an_app_that_is_not_installed_keeps_its_own_objects():
    assert placement.migrations_home("not_an_installed_app") == "not_an_installed_app"


def test_an_installed_package_without_a_project_home_is_refused(settings):
    settings.ROWSYNC_MIGRATIONS_APP = "no_such_app"
    assert placement.is_installed_package(apps.get_app_config("contenttypes"))
    assert placement.migrations_home("contenttypes") is None
    settings.ROWSYNC_MIGRATIONS_APP = "testapp"
    assert placement.migrations_home("contenttypes") == "testapp"
