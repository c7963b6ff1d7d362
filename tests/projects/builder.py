"""Throw-away Django projects in a temporary directory, driven by ``manage.py`` subprocesses.

Each project is what ``startproject`` gives a user: a ``proj`` settings package with
``BASE_DIR``, an app ``shop`` of the project, Django's contrib apps and rowsync as
installed packages. Its database is a fresh one of the leg's engine (``ROWSYNC_TEST_DB``).

The installed packages come from a private ``site-packages`` beside the project: Django
linked file by file, except the migrations packages of its contrib apps, which are
copies, and a copy of rowsync's source. Whatever a command writes into an installed
package lands there, never in the shared environment.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import django
from django.db import connections

from tests.dbconfig import db_config

SRC = Path(__file__).resolve().parents[2] / "src"
ENGINE = os.environ.get("ROWSYNC_TEST_DB", "sqlite")
DJANGO = Path(django.__file__).resolve().parent
CONTRIB = ("auth", "contenttypes", "sessions")
# Paths (relative to site-packages) that are copied; everything else of Django is linked.
COPIED = tuple(f"django/contrib/{name}/migrations" for name in CONTRIB)


def _overlay(source: Path, target: Path, relative: str) -> None:
    target.mkdir()
    for entry in source.iterdir():
        if entry.name == "__pycache__":
            continue
        path = f"{relative}/{entry.name}"
        if path in COPIED:
            shutil.copytree(entry, target / entry.name)
        elif any(c.startswith(path + "/") for c in COPIED):
            _overlay(entry, target / entry.name, path)
        else:
            (target / entry.name).symlink_to(entry)


def make_site_packages(folder: Path) -> Path:
    """Create a private ``site-packages`` in ``folder`` (see the module docstring)."""
    packages = folder / "site-packages"
    packages.mkdir()
    _overlay(DJANGO, packages / "django", "django")
    shutil.copytree(
        SRC / "rowsync", packages / "rowsync", ignore=shutil.ignore_patterns("__pycache__")
    )
    return packages


def snapshot(*folders: Path) -> dict[str, float]:
    """Return ``{path: mtime}`` of every file under ``folders`` (links not followed)."""
    found: dict[str, float] = {}
    for folder in folders:
        for dirpath, _dirs, files in os.walk(folder):
            for name in files:
                path = os.path.join(dirpath, name)
                if "__pycache__" not in path:
                    found[path] = os.lstat(path).st_mtime
    return found


SHOP_MODELS = """
from django.db import models


class Customer(models.Model):
    name = models.CharField(max_length=50)


class Order(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE)
"""


class Project:
    """One project on disk and its database.

    Args:
        root: The directory to create the project in (``BASE_DIR``).
        packages: The private ``site-packages`` (:func:`make_site_packages`).
        settings: Extra lines appended to ``proj/settings.py``.
        models: The source of ``shop/models.py``.
    """

    def __init__(
        self, root: Path, packages: Path, settings: str = "", models: str = SHOP_MODELS
    ) -> None:
        self.root = root
        self.packages = packages
        self.alias = f"proj{uuid.uuid4().hex[:8]}"
        self.database = db_config(ENGINE, self.alias)
        if ENGINE == "sqlite":
            self.database["NAME"] = str(root / "db.sqlite3")
        (root / "proj").mkdir(parents=True)
        (root / "proj" / "__init__.py").write_text("")
        (root / "shop" / "migrations").mkdir(parents=True)
        (root / "shop" / "__init__.py").write_text("")
        (root / "shop" / "migrations" / "__init__.py").write_text("")
        (root / "manage.py").write_text(
            "import os, sys\n"
            "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')\n"
            "from django.core.management import execute_from_command_line\n"
            "execute_from_command_line(sys.argv)\n"
        )
        self.write_models(models)
        self.write_settings(settings)
        self._create_database()

    def write_models(self, source: str) -> None:
        """Replace ``shop/models.py``."""
        (self.root / "shop" / "models.py").write_text(textwrap.dedent(source))

    def write_settings(self, extra: str = "") -> None:
        """Write ``proj/settings.py``: the base settings, then ``extra``."""
        database = {k: v for k, v in self.database.items() if k != "TEST"}
        base = textwrap.dedent(
            f"""
            from pathlib import Path

            BASE_DIR = Path(__file__).resolve().parent.parent
            SECRET_KEY = "project-under-test"
            USE_TZ = True
            DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
            CONTRIB = {list(CONTRIB)!r}
            INSTALLED_APPS = [f"django.contrib.{{name}}" for name in CONTRIB] + ["rowsync", "shop"]
            DATABASES = {{"default": {database!r}}}
            """
        )
        (self.root / "proj" / "settings.py").write_text(base + textwrap.dedent(extra))

    def _create_database(self) -> None:
        if ENGINE == "sqlite":
            return
        with connections["default"]._nodb_cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {self.database['NAME']}")

    def drop_database(self) -> None:
        """Drop the project's database (server engines; SQLite's goes with the directory)."""
        if ENGINE == "sqlite":
            return
        with connections["default"]._nodb_cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {self.database['NAME']}")

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``manage.py *args`` with this leg's Python and the private site-packages."""
        env = dict(os.environ)
        env["PYTHONPATH"] = str(self.packages)
        env.pop("DJANGO_SETTINGS_MODULE", None)
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"manage.py {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    def python(self, code: str) -> str:
        """Run ``code`` in ``manage.py shell`` and return what it prints."""
        return self.manage("shell", "-v", "0", "-c", textwrap.dedent(code)).stdout


def strip_rowsync(path: Path) -> None:
    """Edit the migration at ``path`` as docs/uninstall.md says: drop every trace of rowsync.

    Its dependencies on rowsync's migrations, its rowsync operations and its rowsync imports.
    """
    tree = ast.parse(path.read_text())

    def from_rowsync(node: ast.AST) -> bool:
        return ast.unparse(node).startswith(("rowsync.", "'rowsync'", '"rowsync"'))

    tree.body = [
        node
        for node in tree.body
        if not (
            isinstance(node, ast.Import) and all(a.name.startswith("rowsync") for a in node.names)
        )
    ]
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.List):
            name = ast.unparse(node.targets[0])
            if name == "dependencies":
                node.value.elts = [e for e in node.value.elts if not from_rowsync(e.elts[0])]  # type: ignore[attr-defined]
            elif name == "operations":
                node.value.elts = [
                    e
                    for e in node.value.elts
                    if not (isinstance(e, ast.Call) and from_rowsync(e.func))
                ]
    path.write_text(ast.unparse(tree) + "\n")
