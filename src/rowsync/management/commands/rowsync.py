"""``manage.py rowsync <subcommand>``: one entry point for rowsync's operational commands.

Each subcommand lives in the subsystem that owns it, as a module with
``HELP: str``, ``add_arguments(parser)`` and ``handle(command, **options) -> None``.
Django's standard options (``--settings``, ``-v`` ...) are accepted before and after the
subcommand; a ``--database`` naming no entry of ``DATABASES`` is a ``CommandError``.
"""

from __future__ import annotations

import argparse
import copy
import importlib
from types import ModuleType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

# {subcommand: module path}
SUBCOMMANDS: dict[str, str] = {
    "check": "rowsync.ondelete.cli",
    "worker": "rowsync.events.cli_worker",
    "replay": "rowsync.events.cli_replay",
    "status": "rowsync.events.cli_status",
    "explain": "rowsync.explain",
}


def _load(path: str) -> ModuleType | None:
    try:
        return importlib.import_module(path)
    except ModuleNotFoundError as exc:
        if exc.name == path:
            return None
        raise


class Command(BaseCommand):
    help = (
        "rowsync operations: check (drift), worker (deliver events), replay (dead letters), "
        "status (backlog, workers, health check), explain (what deleting a row does)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        for name, path in SUBCOMMANDS.items():
            module = _load(path)
            if module is None:
                continue
            sp = sub.add_parser(name, help=module.HELP, description=module.HELP)
            _add_standard_options(parser, sp)
            module.add_arguments(sp)

    def handle(self, *args: Any, **options: Any) -> None:
        name = options.pop("subcommand")
        _check_aliases(options.get("database"))
        module = _load(SUBCOMMANDS[name])
        if module is None:  # pragma: no cover - argparse refuses unknown names first
            raise CommandError(f"unknown rowsync subcommand {name!r}")
        module.handle(self, **options)


def _add_standard_options(parser: CommandParser, sub: CommandParser) -> None:
    """Give ``sub`` the options Django gave ``parser`` (``--settings``, ``-v`` ...).

    argparse hands everything after the subcommand to the subparser, which would reject
    ``manage.py rowsync worker --settings X``. The copies default to ``SUPPRESS``: given
    before the subcommand, the value of the main parser stays.
    """
    for action in parser._actions:
        if not action.option_strings or action.dest in ("help", "version"):
            continue
        twin = copy.copy(action)
        twin.default = argparse.SUPPRESS
        twin.required = False
        sub._add_action(twin)


def _check_aliases(value: object) -> None:
    """Raise ``CommandError`` when ``--database`` names an alias ``DATABASES`` lacks."""
    aliases = [value] if isinstance(value, str) else list(value or ())  # type: ignore[call-overload]
    known = list(connections.settings)
    for alias in aliases:
        if alias not in known:
            raise CommandError(
                f"unknown database alias {alias!r}; DATABASES defines: {', '.join(known)}"
            )
