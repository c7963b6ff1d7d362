"""``manage.py demo``: build a fresh database, load the data set, run every section."""

from __future__ import annotations

import importlib
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from blog.demo import SECTIONS
from blog.demo.report import Report


class Command(BaseCommand):
    help = "Run the rowsync demo on the example blog."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--keep", action="store_true", help="keep the existing database")

    def handle(self, *args: Any, **options: Any) -> None:
        from django.db import connection

        call_command("migrate", verbosity=0)
        if not options["keep"]:
            call_command("flush", interactive=False, verbosity=0)
        report = Report(self.stdout)
        report.line(f"database: {connection.vendor} ({connection.settings_dict['NAME']})")
        for path in SECTIONS:
            module = importlib.import_module(path)
            report.heading(module.TITLE)
            module.run(report)
        if report.failures:
            raise CommandError(f"{report.failures} demo check(s) failed")
        report.heading("Done")
