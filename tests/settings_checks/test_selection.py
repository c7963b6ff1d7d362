"""Project-wide selections ("__all__", app labels) never take rowsync's own or tableless models."""

from __future__ import annotations

import io

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import models
from django.db.migrations.recorder import MigrationRecorder
from django.test import override_settings
from django.test.utils import isolate_apps

from rowsync.events.capture import is_captured
from rowsync.identity import registry
from rowsync.ondelete.plan import build_plan
from rowsync.selection import selects

ROWSYNC_MODELS = list(apps.get_app_config("rowsync").get_models())


def test_rowsync_has_models_to_protect():
    assert {m.__name__ for m in ROWSYNC_MODELS} >= {"DeletedRow", "CaptureSession"}


@pytest.mark.parametrize("value", ["__all__", ["rowsync"], ("rowsync", "blog")])
def test_capture_never_takes_rowsyncs_own_tables(value):
    with override_settings(ROWSYNC_CAPTURE=value):
        assert [m for m in ROWSYNC_MODELS if is_captured(m)] == []


@pytest.mark.parametrize("value", ["__all__", ["rowsync"]])
def test_identity_map_never_takes_rowsyncs_own_models(value):
    with override_settings(ROWSYNC_IDENTITY_MAP=value):
        assert [m for m in ROWSYNC_MODELS if registry.selected_by_setting(m)] == []


@pytest.mark.parametrize("value", ["__all__", ["rowsync"]])
def test_db_on_delete_never_takes_rowsyncs_own_models(value):
    for model in ROWSYNC_MODELS:
        assert not selects(value, model)


def test_django_migrations_is_never_selected():
    assert not selects("__all__", MigrationRecorder.Migration)
    assert not selects(["migrations"], MigrationRecorder.Migration)


@isolate_apps("tests.odapp")
def test_unmanaged_and_tableless_models_are_left_out_of_project_wide_selections():
    class Target(models.Model):
        __module__ = "tests.odapp.models"

    class View(models.Model):
        __module__ = "tests.odapp.models"
        target = models.ForeignKey(Target, models.CASCADE)

        class Meta:
            managed = False

    class Base(models.Model):
        __module__ = "tests.odapp.models"

        class Meta:
            abstract = True

    class Alias(Target):
        __module__ = "tests.odapp.models"

        class Meta:
            proxy = True

    for selection in ("__all__", ["odapp"]):
        assert selects(selection, Target)
        assert not selects(selection, View)
        assert not selects(selection, Base)
        assert not selects(selection, Alias)
    with override_settings(ROWSYNC_CAPTURE="__all__"):
        assert is_captured(Target) and not is_captured(View)
    plan = build_plan(Target._meta.apps, "__all__")
    assert View._meta.get_field("target") not in plan.behaviours


@pytest.mark.django_db
def test_makemigrations_writes_nothing_into_rowsync_under_all():
    out = io.StringIO()
    with override_settings(
        ROWSYNC_CAPTURE="__all__", ROWSYNC_DB_ON_DELETE="__all__", ROWSYNC_IDENTITY_MAP="__all__"
    ):
        call_command("makemigrations", "rowsync", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()
