from __future__ import annotations

import pytest
from django.core import checks

from rowsync.checks import check_numeric_settings


def test_default_settings_pass():
    assert check_numeric_settings() == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ROWSYNC_WORKER_BATCH_SIZE", "lots"),
        ("ROWSYNC_WORKER_POLL_INTERVAL", 0),
        ("ROWSYNC_WORKER_MAX_ATTEMPTS", -1),
        ("ROWSYNC_WORKER_RETRY_DELAY", (5, "x")),
        ("ROWSYNC_DELIVERY_BATCH_SIZE", None),
        ("ROWSYNC_DELIVERY_LEASE", 0),
    ],
)
def test_bad_numeric_setting_is_a_check_error(settings, name, value):
    setattr(settings, name, value)
    errors = check_numeric_settings()
    assert [(e.id, e.obj) for e in errors] == [("rowsync.E091", name)]
    assert isinstance(errors[0], checks.Error) and errors[0].hint


# Django 6.1's JSONField check asks SQLite whether it supports JSON: allow the query.
@pytest.mark.django_db(databases=["default", "other"])
def test_check_runs_through_django(settings):
    settings.ROWSYNC_WORKER_BATCH_SIZE = "many"
    ids = [m.id for m in checks.run_checks()]
    assert "rowsync.E091" in ids
