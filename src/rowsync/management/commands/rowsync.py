"""``manage.py rowsync <subcommand>``: one entry point for rowsync's operational commands.

Each subcommand lives in the subsystem that owns it, as a module with
``HELP: str``, ``add_arguments(parser)`` and ``handle(command, **options) -> None``.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

# {subcommand: module path}
SUBCOMMANDS: dict[str, str] = {
    "check": "rowsync.ondelete.cli",
    "worker": "rowsync.events.cli_worker",
    "replay": "rowsync.events.cli_replay",
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
        "explain (what deleting a row does)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        for name, path in SUBCOMMANDS.items():
            module = _load(path)
            if module is None:
                continue
            sp = sub.add_parser(name, help=module.HELP, description=module.HELP)
            module.add_arguments(sp)

    def handle(self, *args: Any, **options: Any) -> None:
        name = options.pop("subcommand")
        module = _load(SUBCOMMANDS[name])
        if module is None:  # pragma: no cover - argparse refuses unknown names first
            raise CommandError(f"unknown rowsync subcommand {name!r}")
        module.handle(self, **options)
