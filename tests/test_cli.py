"""``manage.py rowsync <sub>``: Django's standard options anywhere, user errors as CommandError."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

ROOT = Path(__file__).resolve().parent.parent


# -- call_command ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ("worker", "--drain"),
        ("replay", "--list"),
        ("status",),
        ("check",),
    ],
)
@pytest.mark.django_db(databases=["default", "other"])
def test_unknown_alias_lists_the_known_ones(argv):
    with pytest.raises(CommandError) as info:
        call_command("rowsync", *argv, "--database", "nope", stdout=StringIO())
    message = str(info.value)
    assert "'nope'" in message
    assert "default" in message and "other" in message


@pytest.mark.django_db(databases=["default", "other"])
def test_unknown_alias_by_keyword():
    with pytest.raises(CommandError, match="nope"):
        call_command("rowsync", "check", database="nope", stdout=StringIO())


@pytest.mark.parametrize("sub", ["worker", "replay"])
@pytest.mark.django_db
def test_missing_import_module(sub):
    extra = ["--drain"] if sub == "worker" else ["--list"]
    with pytest.raises(CommandError, match="rowsync_no_such_module") as info:
        call_command(
            "rowsync",
            sub,
            *extra,
            "--import",
            "rowsync_no_such_module.receivers",
            stdout=StringIO(),
        )
    assert isinstance(info.value.__cause__, ImportError)


@pytest.mark.django_db
def test_standard_options_after_the_subcommand():
    out = StringIO()
    call_command(
        "rowsync",
        "worker",
        "--drain",
        "-v",
        "0",
        "--no-color",
        "--traceback",
        "--progress",
        "0",
        stdout=out,
    )


# -- a real manage.py ------------------------------------------------------------------

SETTINGS = """
SECRET_KEY = "cli"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rowsync"]
DATABASES = {{
    "default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": {db!r}}},
    "second": {{"ENGINE": "django.db.backends.sqlite3", "NAME": {db2!r}}},
}}
"""

MANAGE = """
import sys
from django.core.management import execute_from_command_line
execute_from_command_line(sys.argv)
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "cli_project_settings.py").write_text(
        textwrap.dedent(
            SETTINGS.format(db=str(tmp_path / "db.sqlite3"), db2=str(tmp_path / "db2.sqlite3"))
        )
    )
    (tmp_path / "manage.py").write_text(textwrap.dedent(MANAGE))
    return tmp_path


def manage(project, *argv):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "manage.py", *argv],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def assert_command_error(done, *words):
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("CommandError: "), done.stderr
    for word in words:
        assert word in done.stderr


def test_manage_py_options_anywhere_and_user_errors(project):
    settings = ("--settings", "cli_project_settings", "--pythonpath", str(project))
    # Unmigrated database: a CommandError that says to run migrate.
    done = manage(project, "rowsync", "worker", "--drain", *settings, "-v", "0")
    assert_command_error(done, "migrate", "default")
    done = manage(project, "rowsync", "replay", "--list", *settings)
    assert_command_error(done, "migrate")
    done = manage(project, "rowsync", "worker", "--drain", "--database", "nope", *settings)
    assert_command_error(done, "'nope'", "default", "second")
    done = manage(project, "rowsync", "worker", "--import", "missing.module", *settings)
    assert_command_error(done, "missing.module")

    assert manage(project, "migrate", "-v", "0", *settings).returncode == 0
    done = manage(
        project, "rowsync", "worker", "--drain", *settings, "-v", "0", "--no-color", "--traceback"
    )
    assert done.returncode == 0, done.stderr
    done = manage(project, "rowsync", "check", "--force-color", "--database", "default", *settings)
    assert done.returncode == 0, done.stderr
    # --traceback still shows the traceback of a user error, as Django does.
    done = manage(
        project, "rowsync", "worker", "--drain", "--database", "nope", "--traceback", *settings
    )
    assert done.returncode == 1 and "Traceback" in done.stderr
    # The other database was never migrated.
    done = manage(project, "rowsync", "worker", "--drain", "--database", "second", *settings)
    assert_command_error(done, "migrate", "second")


def test_a_subcommand_whose_module_is_absent_is_left_out(monkeypatch):
    from rowsync.management.commands import rowsync as command

    monkeypatch.setitem(command.SUBCOMMANDS, "absent", "rowsync_tests_absent_cli")
    assert command._load("rowsync_tests_absent_cli") is None
    parser = command.Command().create_parser("manage.py", "rowsync")
    assert "absent" not in parser.format_help()


def test_a_subcommand_whose_own_import_fails_is_not_hidden(tmp_path, monkeypatch):
    from rowsync.management.commands import rowsync as command

    (tmp_path / "rowsync_tests_broken_cli.py").write_text("import rowsync_tests_missing_dep\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="rowsync_tests_missing_dep"):
        command._load("rowsync_tests_broken_cli")
