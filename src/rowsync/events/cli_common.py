"""Options shared by the ``manage.py rowsync worker`` and ``replay`` subcommands."""

from __future__ import annotations

import importlib
from argparse import ArgumentParser
from collections.abc import Iterable


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
    """Import each module named by ``--import`` so its receivers are connected."""
    for module in modules:
        importlib.import_module(module)
