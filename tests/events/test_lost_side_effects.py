"""rowsync.W120: the database deletes or nulls rows whose signals or files nobody handles."""

from __future__ import annotations

import pytest
from django.db import models
from django.db.models.signals import post_delete, post_save, pre_delete
from django.test import override_settings
from django.test.utils import isolate_apps

import rowsync
from rowsync.events.checks import lost_side_effects
from rowsync.ondelete.plan import build_plan


def audit(sender, instance, **kwargs):
    pass


def _warnings(*classes, selection=()):
    registry = classes[0]._meta.apps
    plan = build_plan(registry, selection)
    return lost_side_effects(plan, set(registry.get_models(include_auto_created=True)))


@pytest.fixture
def connected():
    done = []

    def connect(signal, sender):
        signal.connect(audit, sender=sender, weak=False)
        done.append((signal, sender))

    yield connect
    for signal, sender in done:
        signal.disconnect(audit, sender=sender)


@isolate_apps("tests.odapp")
def test_database_cascade_into_a_model_with_files_and_receivers(connected):
    class Folder(models.Model):
        __module__ = "tests.odapp.models"

    class Document(models.Model):
        __module__ = "tests.odapp.models"
        folder = models.ForeignKey(Folder, rowsync.DB_CASCADE)
        scan = models.FileField(upload_to="scans")

    class Page(models.Model):
        """Below the database cascade (chain): the Collector never sees these rows either."""

        __module__ = "tests.odapp.models"
        document = models.ForeignKey(Document, models.CASCADE)

    connected(post_delete, Document)
    connected(pre_delete, Page)
    messages = _warnings(Folder)
    found = {m.obj.model.__name__: m for m in messages}
    assert set(found) == {"Document", "Page"} and {m.id for m in messages} == {"rowsync.W120"}
    assert "scan" in found["Document"].msg and f"{__name__}.audit" in found["Document"].msg
    assert "pre_delete" in found["Page"].msg and "ROWSYNC_CAPTURE" in found["Page"].hint


@isolate_apps("tests.odapp")
def test_database_set_null_with_a_post_save_receiver(connected):
    class Owner(models.Model):
        __module__ = "tests.odapp.models"

    class Pet(models.Model):
        __module__ = "tests.odapp.models"
        owner = models.ForeignKey(Owner, rowsync.DB_SET_NULL, null=True)

    connected(post_save, Pet)
    (message,) = _warnings(Owner)
    assert message.id == "rowsync.W120" and "post_save" in message.msg


@isolate_apps("tests.odapp")
def test_captured_quiet_or_python_level_relations_are_fine(connected):
    class Folder(models.Model):
        __module__ = "tests.odapp.models"

    class Captured(models.Model):
        __module__ = "tests.odapp.models"
        folder = models.ForeignKey(Folder, rowsync.DB_CASCADE)

        class RowsyncMeta:
            capture = True

    class Quiet(models.Model):
        __module__ = "tests.odapp.models"
        folder = models.ForeignKey(Folder, rowsync.DB_CASCADE)

    class Selected(models.Model):
        """Under ROWSYNC_DB_ON_DELETE the Collector still sends the signals on ORM deletes."""

        __module__ = "tests.odapp.models"
        folder = models.ForeignKey(Folder, models.CASCADE)

    connected(post_delete, Captured)
    connected(post_delete, Selected)
    assert _warnings(Folder, selection="__all__") == []
    with override_settings(ROWSYNC_CAPTURE=["odapp"]):
        connected(post_delete, Quiet)
        assert _warnings(Folder) == []
    assert [m.obj.model.__name__ for m in _warnings(Folder)] == ["Quiet"]


def test_the_test_project_has_no_lost_side_effects():
    from django.apps import apps

    from rowsync.ondelete.plan import get_plan

    assert lost_side_effects(get_plan(apps), set(apps.get_models())) == []
