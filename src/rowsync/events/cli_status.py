"""``manage.py rowsync status``: pending events, dead letters and workers; a health check.

Exit status: 0 when every threshold given holds, :data:`UNHEALTHY` (3) when one is
crossed, 1 when the status cannot be read (a ``CommandError``: an unknown alias, an
unreachable database, migrations not applied), 2 for malformed options (argparse).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any, NamedTuple

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from rowsync.events.cli_common import require_migrated
from rowsync.events.status import Snapshot, snapshot

HELP = (
    "Show pending events (event table and inboxes), the oldest one's age, leases in force, "
    "dead letters and worker heartbeats; with --max-*/--require-workers, exit 3 when a "
    "threshold is crossed (a health check)."
)

#: Exit status when a threshold is crossed.
UNHEALTHY = 3


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds >= 0: {text!r}")
    return value


def add_arguments(parser: CommandParser) -> None:
    """Declare the status options."""
    parser.add_argument("--database", default="default", help="Database alias (default).")
    parser.add_argument("--json", action="store_true", help="Print one JSON document.")
    parser.add_argument(
        "--stale-after",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="A worker without a heartbeat for this long is stale "
        "(default: 3 x ROWSYNC_WORKER_HEARTBEAT, at least 30).",
    )
    limits = parser.add_argument_group("thresholds (exit status 3 when one is crossed)")
    limits.add_argument("--max-pending", type=_count, metavar="N", help="Pending events.")
    limits.add_argument(
        "--max-age", type=_seconds, metavar="SECONDS", help="Age of the oldest pending event."
    )
    limits.add_argument("--max-dead", type=_count, metavar="N", help="Dead letters.")
    limits.add_argument(
        "--require-workers", type=_count, metavar="N", help="At least N alive workers."
    )
    limits.add_argument("--max-stale", type=_count, metavar="N", help="Stale heartbeats.")
    limits.add_argument(
        "--require-worker",
        action="append",
        default=[],
        metavar="ID",
        help="The worker ID (its --worker-id) is alive (repeatable): a per-worker probe.",
    )


class Check(NamedTuple):
    """One threshold and what the snapshot says."""

    name: str
    limit: float
    value: float
    ok: bool

    def as_dict(self) -> dict[str, Any]:
        """Return the check as JSON-ready values."""
        return {"check": self.name, "limit": self.limit, "value": self.value, "ok": self.ok}

    def describe(self) -> str:
        """Return one line: the check, its value and limit, and whether it holds."""
        sign = ">=" if self.name.startswith("require-") else "<="
        verdict = "ok" if self.ok else "CROSSED"
        return f"{self.name}: {_num(self.value)} (wanted {sign} {_num(self.limit)}) {verdict}"


# {option: (check name, the snapshot's value, "at least" rather than "at most")}
_CHECKS: dict[str, tuple[str, Callable[[Snapshot], float], bool]] = {
    "max_pending": ("max-pending", lambda s: s.pending_total, False),
    "max_age": ("max-age", lambda s: s.oldest_age or 0.0, False),
    "max_dead": ("max-dead", lambda s: s.dead_total, False),
    "require_workers": ("require-workers", lambda s: s.alive, True),
    "max_stale": ("max-stale", lambda s: s.stale, False),
}


def evaluate(snap: Snapshot, options: dict[str, Any]) -> list[Check]:
    """Return the checks of the thresholds given in ``options``, in a fixed order."""
    checks = []
    for option, (name, read, at_least) in _CHECKS.items():
        limit = options.get(option)
        if limit is None:
            continue
        value = read(snap)
        checks.append(Check(name, limit, value, value >= limit if at_least else value <= limit))
    alive = {w.worker_id for w in snap.workers if w.alive}
    for worker_id in options.get("require_worker") or ():
        value = int(worker_id in alive)
        checks.append(Check(f"require-worker {worker_id}", 1, value, bool(value)))
    return checks


def handle(command: BaseCommand, **options: Any) -> None:
    """Print the status; raise ``CommandError`` (exit 3) when a threshold is crossed."""
    using = options["database"]
    require_migrated(using)
    try:
        snap = snapshot(using, stale_after=options["stale_after"])
    except DatabaseError as exc:
        raise CommandError(f"cannot read the status of database {using!r}: {exc}") from exc
    checks = evaluate(snap, options)
    crossed = [check for check in checks if not check.ok]
    if options["json"]:
        document = snap.as_dict()
        document["checks"] = [check.as_dict() for check in checks]
        document["healthy"] = not crossed
        command.stdout.write(json.dumps(document, indent=2))
    else:
        command.stdout.write("\n".join(render(snap, checks)))
    if crossed:
        raise CommandError(
            "unhealthy: " + "; ".join(check.describe() for check in crossed),
            returncode=UNHEALTHY,
        )


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Return aligned lines: the first column left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    return [line(header), *(line(row) for row in rows)]


def render(snap: Snapshot, checks: list[Check]) -> list[str]:
    """Return the human-readable report, line by line."""
    age = "-" if snap.oldest_age is None else f"{snap.oldest_age:.1f}s"
    when = f"{snap.taken_at:%Y-%m-%d %H:%M:%S %Z}".rstrip()  # %Z: "UTC" when USE_TZ
    lines = [
        f"rowsync status of database {snap.database!r} at {when}",
        "",
        f"pending: {snap.pending_total} (oldest queued: {age}), "
        f"in flight: {sum(snap.in_flight.values())}, dead letters: {snap.dead_total}",
    ]
    models = sorted({*snap.queued, *snap.inbox, *snap.dead})
    if models:
        rows = [
            [m, str(snap.queued.get(m, 0)), str(snap.inbox.get(m, 0)), str(snap.dead.get(m, 0))]
            for m in models
        ]
        lines += ["", *_table(["model", "queued", "inbox", "dead"], rows)]
    if snap.in_flight:
        rows = [[name or "(in process)", str(n)] for name, n in snap.in_flight.items()]
        lines += ["", *_table(["leased by", "events"], rows)]
    lines += ["", *_workers(snap)]
    if checks:
        lines += ["", *(check.describe() for check in checks)]
    return lines


def _workers(snap: Snapshot) -> list[str]:
    rates = snap.rates
    lines = [
        f"workers: {snap.alive} alive, {snap.stale} stale (no heartbeat for "
        f"{_num(snap.stale_after)}s); last minute: {rates['delivered_last_minute']} "
        f"delivered, {rates['failed_last_minute']} failed attempts"
    ]
    if not snap.workers:
        return lines
    rows = [
        [
            w.worker_id,
            w.state if w.alive else "STALE",
            f"{w.age:.0f}s",
            str(w.delivered),
            str(w.failed),
            str(w.dead),
            str(w.delivered_last_minute),
        ]
        for w in snap.workers
    ]
    header = ["worker", "state", "seen", "delivered", "failed", "dead", "last min"]
    return [*lines, "", *_table(header, rows)]
