"""Frozen-SQL database objects (triggers, constraints) installed through migrations.

Two subsystems use this package: ``ondelete`` (database-enforced ``on_delete``) and
``events`` (capture triggers). It knows nothing about either.

Contract:

* A **contributor** is ``(model, backend) -> list[CompiledSQL]``: the objects ``model``
  should have on ``backend``'s engine. ``backend`` may be *offline* (no connection:
  ``makemigrations`` compiles SQL for every engine, SQLite, PostgreSQL and MySQL, at
  once), so a contributor only renders text: ``backend.qn(name)``,
  ``backend.literal_sql(value)`` and the backend's own ``*_sql()`` methods. Register it
  once from your ``setup()``: ``register_contributor("events", my_contributor)``.
* A :class:`CompiledSQL` (alias :data:`CompiledTrigger`) is frozen: ``name``
  (``rowsync_<kind>_<table>_<hash5>``, use :func:`object_name`), ``vendor``, ``table``,
  ``install_sql``/``uninstall_sql`` (tuples of statements; uninstall must tolerate a
  missing object: ``DROP TRIGGER IF EXISTS``), ``owner``, ``kind`` (``trigger`` or
  ``constraint``), ``references`` (other tables named). Same name + other SQL means
  "changed": the autodetector removes the old one and installs the new one.
* ``makemigrations`` adds :class:`InstallDatabaseObject` / :class:`RemoveDatabaseObject`
  (one per object and engine; other engines skip it, ``sqlmigrate`` shows the SQL).
  Removals go first in a migration, installs last.
* ``migrate`` (``post_migrate``) re-installs objects recorded in the migration state but
  missing from the database (SQLite table rebuilds), and installs the desired objects
  of apps without migrations (test databases built with ``--nomigrations``/syncdb).
* The objects of an installed package's models (Django's contrib apps, third-party
  apps) go into the migrations of ``ROWSYNC_MIGRATIONS_APP`` (:mod:`rowsync.schema.placement`):
  ``makemigrations`` never writes into an installed package (rowsync.E130-E132).
  An object that exists only for a project model's sake stays with that model even when
  it sits on an installed package's table (``on_delete`` triggers on the referenced
  table, MariaDB's cascade-capture trigger on a parent that is not captured itself).
* :func:`installed_objects`, :func:`install_objects`, :func:`uninstall_objects` and
  :func:`expected_objects` serve drift checks and tests.
"""

from __future__ import annotations

from rowsync.schema.hooks import MIGRATING, prepare_migrations
from rowsync.schema.install import (
    app_has_migrations,
    ensure_app_objects,
    expected_objects,
    install_objects,
    installed_objects,
    unapplies_rowsync,
    uninstall_objects,
)
from rowsync.schema.objects import CompiledSQL, CompiledTrigger, object_name
from rowsync.schema.operations import OPTION, InstallDatabaseObject, RemoveDatabaseObject
from rowsync.schema.placement import is_project_model
from rowsync.schema.registry import (
    Contributor,
    contributors,
    desired_objects,
    desired_objects_for,
    register_contributor,
    unregister_contributor,
)

__all__ = [
    "MIGRATING",
    "OPTION",
    "CompiledSQL",
    "CompiledTrigger",
    "Contributor",
    "InstallDatabaseObject",
    "RemoveDatabaseObject",
    "activate",
    "app_has_migrations",
    "contributors",
    "desired_objects",
    "desired_objects_for",
    "ensure_app_objects",
    "expected_objects",
    "install_objects",
    "installed_objects",
    "is_project_model",
    "object_name",
    "prepare_migrations",
    "register_contributor",
    "setup",
    "unapplies_rowsync",
    "uninstall_objects",
    "unregister_contributor",
]


def setup() -> None:
    """Wire the migration-time machinery in (idempotent): rebuild guard, post_migrate, checks.

    Called by ``ondelete.setup()`` and ``events.setup()``; a second call changes nothing.
    What Django's migrations need (state option, autodetector) comes with
    :func:`activate` or with the first migration that holds rowsync objects
    (:func:`rowsync.schema.hooks.prepare_migrations`).
    """
    from django.core import checks
    from django.db.models.signals import post_migrate, pre_migrate

    from rowsync.schema.checks import check_migrations_app
    from rowsync.schema.install import guard_before_migrate, on_post_migrate

    # Old migrations may install objects and rebuild tables after them, whatever the
    # settings say now: a migration run guards the rebuilds when objects are installed
    # or about to be (only on engines whose rebuilds drop them).
    pre_migrate.connect(guard_before_migrate, dispatch_uid="rowsync.schema.guard")
    post_migrate.connect(on_post_migrate, dispatch_uid="rowsync.schema.ensure")
    checks.register(check_migrations_app, checks.Tags.models)


def activate() -> None:
    """Prepare migrations and guard every database against its objects (idempotent).

    Called by the subsystems that install objects, only when they are switched on:
    the state option and the autodetector (:func:`~rowsync.schema.hooks.prepare_migrations`);
    where the engine needs it (SQLite), table rebuilds keep the objects and a flush does
    not fire them.
    """
    from django.db import connections

    from rowsync.backends import get_backend, is_supported

    prepare_migrations()
    for alias in connections:
        connection = connections[alias]
        if is_supported(connection):
            backend = get_backend(connection)
            backend.guard_rebuilds()
            backend.guard_flush()
