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
* :func:`installed_objects`, :func:`install_objects`, :func:`uninstall_objects` and
  :func:`expected_objects` serve drift checks and tests.
"""

from __future__ import annotations

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
from rowsync.schema.registry import (
    Contributor,
    contributors,
    desired_objects,
    desired_objects_for,
    register_contributor,
    unregister_contributor,
)

__all__ = [
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
    "object_name",
    "register_contributor",
    "setup",
    "unapplies_rowsync",
    "uninstall_objects",
    "unregister_contributor",
]


def setup() -> None:
    """Wire the machinery in (idempotent): state option, autodetector, rebuild, post_migrate.

    Called by ``ondelete.setup()`` and ``events.setup()``; a second call changes nothing.
    ``ROWSYNC_AUTODETECTOR = False`` leaves ``makemigrations``/``migrate`` unpatched.
    """
    from django.core import checks
    from django.core.management.commands import makemigrations, migrate
    from django.db.migrations import state
    from django.db.models import options
    from django.db.models.signals import post_migrate, pre_migrate

    from rowsync import conf
    from rowsync.schema.autodetector import autodetector_class
    from rowsync.schema.checks import check_migrations_app
    from rowsync.schema.install import guard_before_migrate, on_post_migrate

    # The migration state stores objects as a model option, which Meta must accept
    # (the same way django-pgtrigger registers "triggers").
    # django-stubs does not declare DEFAULT_NAMES, hence getattr/setattr.
    names: tuple[str, ...] = getattr(options, "DEFAULT_NAMES")  # noqa: B009
    if OPTION not in names:
        names = (*names, OPTION)
        setattr(options, "DEFAULT_NAMES", names)  # noqa: B010
    if OPTION not in getattr(state, "DEFAULT_NAMES"):  # noqa: B009
        setattr(state, "DEFAULT_NAMES", names)  # noqa: B010
    if conf.schema_autodetector_enabled():
        for command in (makemigrations.Command, migrate.Command):
            command.autodetector = autodetector_class(command.autodetector)
    # Old migrations may install objects and rebuild tables after them, whatever the
    # settings say now: a migration run guards the rebuilds when objects are installed
    # or about to be (only on engines whose rebuilds drop them).
    pre_migrate.connect(guard_before_migrate, dispatch_uid="rowsync.schema.guard")
    post_migrate.connect(on_post_migrate, dispatch_uid="rowsync.schema.ensure")
    checks.register(check_migrations_app, checks.Tags.models)


def activate() -> None:
    """Guard every database against losing or firing its objects (idempotent).

    Where the engine needs it (SQLite): table rebuilds keep the objects, a flush does not
    fire them. Called by the subsystems that install objects, only when they are
    switched on.
    """
    from django.db import connections

    from rowsync.backends import get_backend, is_supported

    for alias in connections:
        connection = connections[alias]
        if is_supported(connection):
            backend = get_backend(connection)
            backend.guard_rebuilds()
            backend.guard_flush()
