"""Where the migrations of a model's database objects go: never into an installed package.

``makemigrations`` writes a migration into the app whose model changed. For the models of
an app that is not part of the project (Django's contrib apps, third-party apps, rowsync
itself) that would write into an installed package, so their objects go into the
migrations of the app named by ``ROWSYNC_MIGRATIONS_APP`` instead; without it they are
refused (system check rowsync.E130).

An app is *installed* (not part of the project) when the folder of its migrations (its
``MIGRATION_MODULES`` entry, else the app's own folder) is under ``site-packages`` or
``dist-packages``, or outside ``settings.BASE_DIR`` when that is set, or under the Python
installation (``sys.prefix``) when it is not.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from django.apps import AppConfig, apps
from django.conf import settings
from django.db.migrations.loader import MigrationLoader
from django.db.models import Model

from rowsync import conf

__all__ = ["is_installed_package", "is_project_model", "migrations_home", "package_folder"]

_PACKAGE_DIRS = frozenset({"site-packages", "dist-packages"})


def package_folder(app_config: AppConfig) -> Path:
    """Return the folder ``makemigrations`` writes ``app_config``'s migrations into (or under)."""
    module_name, explicit = MigrationLoader.migrations_module(app_config.label)
    if explicit and module_name:
        # The nearest importable package of the MIGRATION_MODULES entry: the module itself,
        # or the parent makemigrations would create it in.
        parts = module_name.split(".")
        while parts:
            try:
                spec = importlib.util.find_spec(".".join(parts))
            except (ImportError, ValueError):
                spec = None
            if spec is not None and spec.submodule_search_locations:
                return Path(next(iter(spec.submodule_search_locations))).resolve()
            parts.pop()
    return Path(app_config.path).resolve()


def _under(path: Path, folder: object) -> bool:
    try:
        return path.is_relative_to(Path(str(folder)).resolve())
    except (OSError, ValueError):
        return False


def is_installed_package(app_config: AppConfig) -> bool:
    """Return whether ``app_config``'s migrations would be written outside the project."""
    path = package_folder(app_config)
    if _PACKAGE_DIRS.intersection(path.parts):
        return True
    base_dir = getattr(settings, "BASE_DIR", None)
    if base_dir:
        return not _under(path, base_dir)
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    return any(_under(path, prefix) for prefix in prefixes)


def is_project_model(model: type[Model]) -> bool:
    """Return whether ``model``'s app belongs to the project (its migrations are writable).

    A model of an app that is not installed (a migration state's stand-in) counts as the
    project's, as :func:`migrations_home` treats it.
    """
    try:
        app_config = apps.get_app_config(model._meta.app_label)
    except LookupError:
        return True
    return not is_installed_package(app_config)


def migrations_home(app_label: str) -> str | None:
    """Return the app whose migrations hold the objects of ``app_label``'s models.

    The app itself when it belongs to the project; else ``ROWSYNC_MIGRATIONS_APP`` when
    it names an app of the project; else None (refused: rowsync.E130-E132 explain why).
    """
    try:
        app_config = apps.get_app_config(app_label)
    except LookupError:
        return app_label  # not installed: a migration state of the app's own migrations
    if not is_installed_package(app_config):
        return app_label
    target = conf.migrations_app()
    if not isinstance(target, str):
        return None
    try:
        home = apps.get_app_config(target)
    except LookupError:
        return None
    return None if is_installed_package(home) else home.label
