"""System checks rowsync.E001-E011: bad configuration is reported, never a traceback."""

from __future__ import annotations

import pytest
from django.db import models
from django.test.utils import isolate_apps, override_settings

from rowsync.identity.checks import check_identity
from rowsync.identity.models import IdentityModel


def _ids(**settings):
    with override_settings(**settings):
        return sorted({e.id for e in check_identity()})


def test_default_configuration_is_clean():
    assert check_identity() == []


@isolate_apps("tests.testapp")
def test_unknown_and_bad_meta_options():
    class Odd(IdentityModel):
        class Meta:
            app_label = "testapp"
            use_strong_refs = "yes"
            cache_everything = True

    errors = check_identity([_FakeConfig(Odd)])
    ids = {e.id for e in errors}
    assert {"rowsync.E001", "rowsync.E002"} <= ids
    assert all(e.hint for e in errors)


@isolate_apps("tests.testapp")
def test_strong_shared_without_bound():
    class Risky(IdentityModel):
        class Meta:
            app_label = "testapp"
            use_strong_refs = True
            shared_identity = True

    assert "rowsync.E007" in {e.id for e in check_identity([_FakeConfig(Risky)])}
    with override_settings(ROWSYNC_IDENTITY_MAP_MAX_STRONG=100):
        assert "rowsync.E007" not in {e.id for e in check_identity([_FakeConfig(Risky)])}


@isolate_apps("tests.testapp")
def test_proxy_with_different_options():
    class Base(IdentityModel):
        class Meta:
            app_label = "testapp"

    class P(Base):
        class Meta:
            app_label = "testapp"
            proxy = True
            use_strong_refs = True

    assert "rowsync.E010" in {e.id for e in check_identity([_FakeConfig(P)])}


def test_enabled_twice():
    assert "rowsync.E003" in _ids(ROWSYNC_IDENTITY_MAP=["testapp.Category"])
    assert "rowsync.E003" in _ids(ROWSYNC_IDENTITY_MAP="__all__")


def test_bad_settings():
    assert "rowsync.E004" in _ids(ROWSYNC_IDENTITY_MAP=["testapp.Note", "testapp.note"])
    assert "rowsync.E004" in _ids(ROWSYNC_IDENTITY_MAP=["testapp", "testapp.Note"])
    assert "rowsync.E005" in _ids(ROWSYNC_IDENTITY_MAP=42)
    assert "rowsync.E006" in _ids(ROWSYNC_IDENTITY_MAP=["nosuchapp", "testapp.Nope"])
    assert "rowsync.E008" in _ids(ROWSYNC_IDENTITY_MAP_MAX_STRONG=-1)
    assert "rowsync.E008" in _ids(ROWSYNC_IDENTITY_MAP_MAX_STRONG="10")
    assert "rowsync.E009" in _ids(ROWSYNC_IDENTITY_MAP_OPTIONS=[])
    assert "rowsync.E009" in _ids(ROWSYNC_IDENTITY_MAP_OPTIONS={"testapp.Nope": {}})
    assert "rowsync.E009" in _ids(
        ROWSYNC_IDENTITY_MAP_OPTIONS={"testapp.Note": {"use_weak": True}}
    )
    assert "rowsync.E009" in _ids(
        ROWSYNC_IDENTITY_MAP_OPTIONS={"testapp.RegularCategory": {"multi_db": True}}
    )
    assert "rowsync.E002" in _ids(ROWSYNC_IDENTITY_MAP_OPTIONS={"testapp.Note": {"multi_db": 1}})
    assert "rowsync.E011" in _ids(ROWSYNC_IDENTITY_MAP=["testapp.NoteProxy"])


class _FakeConfig:
    """An app config that lists exactly the given models (for isolated models)."""

    def __init__(self, *models_: type[models.Model]) -> None:
        self._models = models_

    def get_models(self):
        return list(self._models)


@pytest.mark.django_db(databases=["default", "other"])
def test_manage_py_check_runs_them():
    from django.core.management import call_command

    call_command("check", "--fail-level", "ERROR")
