"""``manage.py rowsync check``: report drift between models and database objects."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from rowsync.ondelete.drift import differences

HELP = (
    "Compare the constraints and triggers rowsync installs (on_delete, capture) with what the "
    "models ask for; exit non-zero on any difference."
)


def add_arguments(parser: CommandParser) -> None:
    """Add ``--database``."""
    parser.add_argument(
        "--database",
        action="append",
        dest="database",
        help="Database alias to check (repeatable; default: every database).",
    )


def handle(command: BaseCommand, **options: Any) -> None:
    """Print each difference; raise ``CommandError`` (exit 1) when there is any."""
    value = options.get("database")  # a list, or one alias from call_command(database=...)
    aliases = [value] if isinstance(value, str) else value or list(connections)
    found = []
    for alias in aliases:
        diffs = differences(alias)
        found.extend(diffs)
        if not diffs:
            command.stdout.write(f"[{alias}] no drift")
    for difference in found:
        command.stdout.write(str(difference))
    if found:
        raise CommandError(f"{len(found)} difference(s) between models and database")
