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
#: say now, so makemigrations stays guarded (a no-op without objects;
#: ``test_makemigrations_unchanged`` shows that it adds nothing). The SQLite rebuild guard
#: goes in only when a migration run meets objects, or a feature is switched on.
MIGRATION_TIME = {
    "makemigrations.autodetector",
    "migrate.autodetector",
    "receivers.post_migrate",
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


def test_installing_wraps_nothing(plain, installed):
    runtime = {k: v for k, v in plain["hooks"].items() if k not in MIGRATION_TIME}
    assert {k: installed["hooks"][k] for k in runtime} == runtime
    assert "rowsync" not in json.dumps(runtime)


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
