"""``manage.py rowsync replay``: list and re-send dead letters."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from rowsync.events.cli_common import add_import_argument, import_modules, require_migrated

HELP = (
    "List dead letters (--list) or re-send them (--id N ... | --all [--model app.Model]); "
    "--requeue hands them back to the worker instead of sending them here."
)


def add_arguments(parser: CommandParser) -> None:
    """Declare the replay options."""
    parser.add_argument("--database", default="default", help="Database alias (default).")
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--id", dest="ids", type=int, action="append", default=[], help="Event id (repeatable)."
    )
    which.add_argument("--all", action="store_true", help="Every dead letter.")
    parser.add_argument("--model", default=None, help="Only events of app_label.ModelName.")
    parser.add_argument("--list", action="store_true", help="Show dead letters and reasons.")
    parser.add_argument(
        "--requeue", action="store_true", help="Mark them pending for a worker to deliver."
    )
    add_import_argument(parser)


def handle(command: BaseCommand, **options: Any) -> None:
    """List or re-send the selected dead letters.

    Raises:
        CommandError: Nothing was selected, or some events still fail.
    """
    from rowsync.events.worker import dead_letters, replay

    import_modules(options["imports"])
    require_migrated(options["database"])
    using = options["database"]
    ids: list[int] = options["ids"]
    if options["list"]:
        for event in dead_letters(using, ids=ids or None, model=options["model"]):
            reason = event.last_error.split("\n", 1)[0]
            command.stdout.write(
                f"{event.pk}\t{event.model_label}\tpk={event.pk_text}\t"
                f"attempts={event.attempts}\t{reason}"
            )
        return
    if not ids and not options["all"] and not options["model"]:
        raise CommandError("choose the dead letters: --id N (repeatable), --all or --model")
    result = replay(using, ids=ids or None, model=options["model"], requeue=options["requeue"])
    if options["requeue"]:
        command.stdout.write(f"requeued {result.requeued} dead letter(s)")
        return
    command.stdout.write(f"replayed {len(result.delivered)} dead letter(s)")
    if result.failed:
        for pk, reason in result.failed.items():
            command.stderr.write(f"event {pk} still fails: {reason}")
        raise CommandError(f"{len(result.failed)} dead letter(s) still fail; see --list")
