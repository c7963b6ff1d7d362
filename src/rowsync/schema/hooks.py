"""What migrations need from Django once rowsync objects are in play (registry: ``schema``).

Applied by :func:`prepare_migrations`, through :mod:`rowsync._patch`, in two cases only:

* a subsystem is switched on (``schema.activate()``, called by ``ondelete``/``events``);
* the project's migrations hold rowsync objects: building an
  :class:`~rowsync.schema.operations.InstallDatabaseObject` (or ``Remove...``) while the
  migration loader reads a migration file calls it, before ``makemigrations``/``migrate``
  use the autodetector. A project that switched rowsync off after installing objects
  thus still gets the migrations that remove them.

With ``"rowsync"`` only installed nothing here is applied.

=======================================  ============================================
Patch                                    Why
=======================================  ============================================
``options.DEFAULT_NAMES``                the migration state keeps a model's objects
``state.DEFAULT_NAMES``                  as the Meta-level option ``rowsync_objects``
``makemigrations.Command.autodetector``  a subclass (Django's class attribute) that
``migrate.Command.autodetector``         adds and removes objects
``migrate.Command.check``                the drift check stays silent while ``migrate``
                                         checks (it installs what is missing)
=======================================  ============================================
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from rowsync import _patch
from rowsync.schema.operations import OPTION

#: True while ``migrate`` runs its system checks (the drift check reads it).
MIGRATING: ContextVar[bool] = ContextVar("rowsync_migrating", default=False)


class _Names(tuple[str, ...]):
    """Django's ``DEFAULT_NAMES`` plus ``rowsync_objects`` (a subclass: it takes the marker)."""


def _with_option(names: tuple[str, ...]) -> tuple[str, ...]:
    return names if OPTION in names else _Names((*names, OPTION))


def _migrating_check(original: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(original)
    def check(self: Any, *args: Any, **kwargs: Any) -> None:
        token = MIGRATING.set(True)
        try:
            original(self, *args, **kwargs)
        finally:
            MIGRATING.reset(token)

    return check


def prepare_migrations() -> None:
    """Let migrations hold rowsync objects and ``makemigrations`` write them (idempotent).

    ``ROWSYNC_AUTODETECTOR = False`` leaves the commands' autodetector unpatched.
    """
    from django.core.management.commands import makemigrations, migrate
    from django.db.migrations import state
    from django.db.models import options

    from rowsync import conf
    from rowsync.schema.autodetector import autodetector_class

    # The same way django-pgtrigger registers "triggers": Meta must accept the option.
    for module in (options, state):
        _patch.apply(module, "DEFAULT_NAMES", _with_option, feature="schema")
    if conf.schema_autodetector_enabled():
        for command in (makemigrations.Command, migrate.Command):
            _patch.apply(command, "autodetector", autodetector_class, feature="schema")
    _patch.apply(migrate.Command, "check", _migrating_check, feature="schema")
