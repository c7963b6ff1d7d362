"""``manage.py rowsync worker``: deliver pending events in a long-running process."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from rowsync.events.cli_common import add_import_argument, import_modules, require_migrated
from rowsync.events.retry import RetryPolicy
from rowsync.events.telemetry import WorkerObserver

HELP = (
    "Deliver Django's post_delete for pending events (rows deleted by the database, raw SQL, "
    "other programs or crashed processes). Stops cleanly on SIGTERM/SIGINT; --drain "
    "delivers everything due and exits."
)


def add_arguments(parser: CommandParser) -> None:
    """Declare the worker's options."""
    parser.add_argument("--database", default="default", help="Database alias (default).")
    parser.add_argument(
        "--drain", action="store_true", help="Deliver everything due, then exit (cron, tests)."
    )
    parser.add_argument("--batch-size", type=int, default=None, help="Events per transaction.")
    parser.add_argument(
        "--poll-interval", type=float, default=None, help="Seconds between polls when idle."
    )
    parser.add_argument(
        "--max-attempts", type=int, default=None, help="Failed attempts before a dead letter."
    )
    parser.add_argument(
        "--retry-delay",
        type=float,
        default=None,
        help="Seconds before the first retry (doubles after each failure).",
    )
    parser.add_argument(
        "--max-events", type=int, default=None, help="Exit after handling this many events."
    )
    parser.add_argument(
        "--progress",
        type=float,
        default=10.0,
        help="Seconds between progress lines (0: only the final line).",
    )
    parser.add_argument(
        "--no-listen", action="store_true", help="Poll only (no LISTEN/NOTIFY wake-up)."
    )
    parser.add_argument(
        "--strategy",
        choices=["skip_locked", "lease"],
        default=None,
        help="How to claim events (default: what the database supports best).",
    )
    parser.add_argument("--worker-id", default=None, help="Name recorded in claimed_by.")
    parser.add_argument(
        "--heartbeat",
        type=float,
        default=None,
        metavar="SECONDS",
        help="Seconds between heartbeats (ROWSYNC_WORKER_HEARTBEAT; 0: none).",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        metavar="PORT",
        help="Serve Prometheus metrics on this port (0: any free port; needs prometheus-client).",
    )
    parser.add_argument(
        "--metrics-addr",
        default="127.0.0.1",
        metavar="ADDR",
        help="Address of the metrics server (127.0.0.1; 0.0.0.0 in a container).",
    )
    add_import_argument(parser)


def handle(command: BaseCommand, **options: Any) -> None:
    """Run the worker until it is stopped (or, with ``--drain``, until nothing is due)."""
    from rowsync.events.worker import Worker, WorkerStopped

    import_modules(options["imports"])
    require_migrated(options["database"])
    policy = RetryPolicy.from_settings()
    if options["max_attempts"] is not None or options["retry_delay"] is not None:
        policy = RetryPolicy(
            max_attempts=options["max_attempts"] or policy.max_attempts,
            base_delay=policy.base_delay
            if options["retry_delay"] is None
            else options["retry_delay"],
            max_delay=policy.max_delay,
        )

    def report(line: str) -> None:
        command.stdout.write(line)
        command.stdout.flush()

    heartbeat = options["heartbeat"]
    if heartbeat is not None and not heartbeat >= 0:
        raise CommandError(f"--heartbeat must be 0 or more seconds, not {heartbeat}")
    worker = Worker(
        options["database"],
        batch_size=options["batch_size"],
        poll_interval=options["poll_interval"],
        policy=policy,
        worker_id=options["worker_id"],
        strategy=options["strategy"],
        listen=not options["no_listen"],
        progress_interval=options["progress"],
        report=report,
        heartbeat=heartbeat,
        observers=_metrics(options, report),
    )
    worker.install_signal_handlers()
    try:
        worker.run(drain=options["drain"], max_events=options["max_events"])
    except WorkerStopped as exc:
        raise CommandError(f"{exc}; the batch in progress was rolled back") from exc


def _metrics(options: dict[str, Any], report: Callable[[str], None]) -> list[WorkerObserver]:
    """Start the metrics server of ``--metrics-port``; return its observer (none without)."""
    port = options["metrics_port"]
    if port is None:
        return []
    from rowsync.events.metrics import MetricsUnavailable, serve

    if not 0 <= port <= 65535:
        raise CommandError(f"--metrics-port must be 0..65535, not {port}")
    try:
        observer, bound = serve(port, options["metrics_addr"], [options["database"]])
    except MetricsUnavailable as exc:
        raise CommandError(str(exc)) from exc
    except OSError as exc:
        raise CommandError(
            f"--metrics-port {port}: cannot listen on {options['metrics_addr']}: {exc}"
        ) from exc
    report(f"metrics on http://{options['metrics_addr']}:{bound}/metrics")
    return [observer]
