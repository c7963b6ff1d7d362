"""System checks of where rowsync's objects are migrated: rowsync.E130-E149."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig, apps
from django.core import checks
from django.db.migrations.loader import MigrationLoader
from django.db.models import Model

from rowsync import conf
from rowsync.schema.operations import OPTION
from rowsync.schema.placement import is_installed_package, package_folder
from rowsync.schema.registry import desired_objects

__all__ = ["check_migrations_app"]

_HINT = (
    'Set ROWSYNC_MIGRATIONS_APP = "<app_label>" to an app of your project: its migrations '
    "will hold these objects. Or leave the app out of ROWSYNC_DB_ON_DELETE and ROWSYNC_CAPTURE."
)


def _unmigrated(candidates: dict[str, list[type[Model]]]) -> dict[str, list[str]]:
    """Return ``{app label: [model labels]}`` whose objects differ from their migrations'."""
    state = MigrationLoader(None, ignore_no_migrations=True).project_state()
    found: dict[str, list[str]] = {}
    for label, models in candidates.items():
        for model in models:
            opts = model._meta
            model_state = state.models.get((opts.app_label, opts.model_name))
            recorded = set(model_state.options.get(OPTION, ())) if model_state else set()
            if set(desired_objects(model)) != recorded:
                found.setdefault(label, []).append(opts.label)
    return found


def _check_target(target: object) -> list[checks.CheckMessage]:
    """rowsync.E131-E133: ``ROWSYNC_MIGRATIONS_APP`` must name a project app with migrations."""
    labels = {c.label for c in apps.get_app_configs()}
    if not isinstance(target, str) or target not in labels:
        return [
            checks.Error(
                f"ROWSYNC_MIGRATIONS_APP is {target!r}, which is not the label of an "
                "installed app.",
                hint="Name an app of your project by its label (one of: "
                f"{', '.join(sorted(labels))}).",
                obj="ROWSYNC_MIGRATIONS_APP",
                id="rowsync.E131",
            )
        ]
    home = apps.get_app_config(target)
    if is_installed_package(home):
        return [
            checks.Error(
                f"ROWSYNC_MIGRATIONS_APP names {target!r}, an installed package "
                f"({package_folder(home)}); makemigrations cannot write there.",
                hint="Name an app of your project (under BASE_DIR).",
                obj="ROWSYNC_MIGRATIONS_APP",
                id="rowsync.E132",
            )
        ]
    if MigrationLoader.migrations_module(target)[0] is None:
        return [
            checks.Error(
                f"ROWSYNC_MIGRATIONS_APP names {target!r}, whose migrations are disabled "
                "(MIGRATION_MODULES maps it to None).",
                hint="Name an app of your project that has migrations.",
                obj="ROWSYNC_MIGRATIONS_APP",
                id="rowsync.E133",
            )
        ]
    return []


def check_migrations_app(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Check where the objects of installed packages' models are migrated.

    * rowsync.E130: an installed package's models need objects and
      ``ROWSYNC_MIGRATIONS_APP`` is not set (``makemigrations`` would have to write
      into the package).
    * rowsync.E131: ``ROWSYNC_MIGRATIONS_APP`` names no installed app.
    * rowsync.E132: ``ROWSYNC_MIGRATIONS_APP`` names an installed package itself.
    * rowsync.E133: ``ROWSYNC_MIGRATIONS_APP`` names an app whose migrations are disabled.
    """
    target = conf.migrations_app()
    if target is not None:
        return _check_target(target)
    configs = app_configs if app_configs is not None else apps.get_app_configs()
    candidates: dict[str, list[type[Model]]] = {}
    for config in configs:
        models = [m for m in config.get_models(include_auto_created=True) if desired_objects(m)]
        if models and is_installed_package(config):
            candidates[config.label] = models
    if not candidates:
        return []
    return [
        checks.Error(
            f"rowsync must add database objects (on_delete, capture) to {', '.join(labels)} "
            f"of the installed package {label!r} ({package_folder(apps.get_app_config(label))});"
            " makemigrations never writes into an installed package.",
            hint=_HINT,
            obj=label,
            id="rowsync.E130",
        )
        for label, labels in sorted(_unmigrated(candidates).items())
    ]
