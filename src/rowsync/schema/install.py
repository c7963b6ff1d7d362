"""Install objects outside migrations: after ``migrate`` and for apps without migrations.

* A migrated app gets the objects its migration state records, when they are missing
  (Django's SQLite table rebuild, or an ``AlterField`` that dropped a constraint, may
  have removed them).
* An app without migrations (``migrate --run-syncdb``, test databases built with
  ``--nomigrations``) gets the objects its current models want.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from django.apps import AppConfig
from django.apps.registry import Apps
from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.loader import MigrationLoader
from django.db.models import Model

from rowsync.backends import get_backend, is_supported, vendor_of
from rowsync.schema.objects import CompiledSQL
from rowsync.schema.operations import OPTION, ObjectOperation, nothing_to_uninstall
from rowsync.schema.registry import desired_objects


def installed_objects(connection: BaseDatabaseWrapper) -> dict[str, str]:
    """Return ``{name: table}`` of the ``rowsync_*`` triggers and constraints installed."""
    sql = get_backend(connection).installed_objects_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return {str(name): str(table) for name, table in cursor.fetchall()}


def install_objects(
    connection: BaseDatabaseWrapper, objects: Iterable[CompiledSQL], *, missing_only: bool = True
) -> list[CompiledSQL]:
    """Run the install SQL of ``objects`` meant for ``connection``'s engine.

    Args:
        connection: Where to install.
        objects: Objects of any engine; others are ignored.
        missing_only: Skip objects whose name is already installed.

    Returns:
        The objects installed.
    """
    todo = [o for o in objects if o.vendor == vendor_of(connection)]
    if not todo:
        return []
    if missing_only:
        present = installed_objects(connection)
        todo = [o for o in todo if o.name not in present]
    if not todo:
        return []
    with connection.schema_editor() as editor:
        for obj in todo:
            for sql in obj.install_sql:
                editor.execute(sql, params=None)
    return todo


def uninstall_objects(connection: BaseDatabaseWrapper, objects: Iterable[CompiledSQL]) -> None:
    """Run the uninstall SQL of ``objects`` meant for ``connection``'s engine."""
    todo = [
        o
        for o in objects
        if o.vendor == vendor_of(connection) and not nothing_to_uninstall(connection, o)
    ]
    if not todo:
        return
    with connection.schema_editor() as editor:
        for obj in todo:
            for sql in obj.uninstall_sql:
                editor.execute(sql, params=None)


# {app label: has migrations}
_MIGRATED: dict[str, bool] = {}


def app_has_migrations(app_label: str) -> bool:
    """Return whether ``app_label`` has a migrations package (``MIGRATION_MODULES`` aware)."""
    module_name, _explicit = MigrationLoader.migrations_module(app_label)
    if module_name is None:
        return False
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return False
    return hasattr(module, "__path__")


def expected_objects(model: type[Model], migrated: bool) -> list[CompiledSQL]:
    """Return the objects ``model`` should have: its state's if ``migrated``, else desired."""
    if migrated:
        return list(getattr(model._meta, OPTION, None) or ())
    return desired_objects(model)


def ensure_app_objects(
    connection: BaseDatabaseWrapper, app_label: str, apps: Apps
) -> list[CompiledSQL]:
    """Install the objects ``app_label``'s models should have and lack on ``connection``."""
    if not is_supported(connection):
        return []
    migrated = app_has_migrations(app_label)
    try:
        app = apps.get_app_config(app_label)
    except LookupError:
        return []
    wanted: list[CompiledSQL] = []
    for model in app.get_models():
        if router.allow_migrate_model(connection.alias, model):
            wanted.extend(expected_objects(model, migrated))
    return install_objects(connection, installable(connection, wanted))


def installable(
    connection: BaseDatabaseWrapper, objects: Iterable[CompiledSQL]
) -> list[CompiledSQL]:
    """Return the ``objects`` whose table and referenced tables exist on ``connection``.

    A model can lack its table after ``migrate``: an app without migrations migrated
    without ``--run-syncdb``, a model declared after the tables were made (in a test).
    Its objects wait for the table; ``migrate`` installs them once it exists. Tables that
    ``objects`` create themselves (inboxes) count as present.
    """
    objects = list(objects)
    tables = set(connection.introspection.table_names())
    tables.update(o.name for o in objects if o.kind == "table" and o.table in tables)
    return [o for o in objects if o.table in tables and tables.issuperset(o.references)]


def remove_app_objects(
    connection: BaseDatabaseWrapper, app_label: str, apps: Apps
) -> list[CompiledSQL]:
    """Uninstall the objects of ``app_label``'s models that are present on ``connection``."""
    if not is_supported(connection):
        return []
    try:
        app = apps.get_app_config(app_label)
    except LookupError:
        return []
    migrated = app_has_migrations(app_label)
    present = installed_objects(connection)
    found = [
        obj
        for model in app.get_models()
        for obj in expected_objects(model, migrated)
        if obj.vendor == vendor_of(connection) and (obj.kind == "table" or obj.name in present)
    ]
    uninstall_objects(connection, found)
    return found


def unapplies_rowsync(plan: object) -> bool:
    """Return whether the migration ``plan`` (of ``pre/post_migrate``) unapplies rowsync's first.

    That drops rowsync's own tables: ``migrate rowsync zero``.
    """
    return any(
        backwards and migration.app_label == "rowsync" and migration.initial
        for migration, backwards in plan or ()  # type: ignore[attr-defined]
    )


def _unapplied_rowsync(plan: Any, apps: Apps) -> bool:
    """Return whether ``migrate`` just unapplied rowsync's own migrations (``rowsync zero``)."""
    if not unapplies_rowsync(plan):
        return False
    try:
        apps.get_app_config("rowsync").get_model("DeletedRow")
    except LookupError:
        return True
    return False


def guard_before_migrate(
    sender: Any, *, using: str = "default", plan: Any = None, **kwargs: Any
) -> None:
    """``pre_migrate``: guard table rebuilds where they would drop rowsync's objects.

    Only on engines whose rebuilds drop them (SQLite), and only when the database has
    objects or the migrations about to run install or remove some.
    """
    connection = connections[using]
    if not is_supported(connection):
        return
    backend = get_backend(connection)
    if not backend.table_rebuilds_drop_objects:
        return
    # [(Migration, backwards)]
    steps = plan or []
    touches = any(
        isinstance(operation, ObjectOperation)
        for migration, _backwards in steps
        for operation in migration.operations
    )
    if touches or installed_objects(connection):
        backend.guard_rebuilds()


def on_post_migrate(
    sender: AppConfig,
    using: str = "default",
    apps: Apps | None = None,
    plan: Any = None,
    **kwargs: Any,
) -> None:
    """``post_migrate`` receiver: ensure the sender app's objects exist.

    After ``migrate rowsync zero`` it removes them instead: the apps whose migrations stay
    applied keep no trigger, constraint or inbox of rowsync (their migration state still
    lists them, so applying rowsync's migrations again installs them again).
    """
    if apps is None:
        from django.apps import apps as global_apps

        apps = global_apps
    if _unapplied_rowsync(plan, apps):
        remove_app_objects(connections[using], sender.label, apps)
        return
    ensure_app_objects(connections[using], sender.label, apps)
