"""Options shared by the ``manage.py rowsync worker`` and ``replay`` subcommands."""

from __future__ import annotations

import importlib
from argparse import ArgumentParser
from collections.abc import Iterable

from django.core.management.base import CommandError
from django.db import DatabaseError, connections


def add_import_argument(parser: ArgumentParser) -> None:
    """Add ``--import MODULE`` (repeatable): modules that connect receivers outside ready()."""
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="Import MODULE first (receivers connected outside an AppConfig.ready()).",
    )


def import_modules(modules: Iterable[str]) -> None:
    """Import each module named by ``--import`` so its receivers are connected.

    Raises:
        CommandError: A module cannot be imported.
    """
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise CommandError(f"--import {module}: cannot import it ({exc})") from exc


def require_migrated(using: str) -> None:
    """Raise ``CommandError`` unless database ``using`` has rowsync's tables.

    The worker and replay read and write them on every pass: without them each pass would
    fail (the worker would retry forever).
    """
    from django.apps import apps

    wanted = [m._meta.db_table for m in apps.get_app_config("rowsync").get_models()]
    connection = connections[using]
    try:
        with connection.cursor() as cursor:
            present = set(connection.introspection.table_names(cursor))
    except DatabaseError as exc:
        raise CommandError(f"cannot read database {using!r}: {exc}") from exc
    missing = [table for table in wanted if table not in present]
    if missing:
        raise CommandError(
            f"database {using!r} has no table {', '.join(missing)}: rowsync's migrations "
            f"are not applied there; run `manage.py migrate --database {using}` first"
        )
