#!/usr/bin/env python
"""Benchmark worker throughput: a backlog of captured deletes, 1, 2, 4 worker processes.

Each run deletes ``--events`` chapters with one raw SQL statement (the capture triggers
record them, unclaimed, like any delete no session handled), starts the worker processes
together, and times them from the start until no event is pending (every transaction that
took one committed). Receivers (``--receivers``): ``noop`` records the call; ``row`` also
inserts one row with the ORM (``Shelf.objects.create``) in the worker's transaction;
``rowbatch`` is a ``post_delete_batch`` receiver that inserts the rows of a whole batch
with one ``Shelf.objects.bulk_create``.

Every run checks the count exactly: expected, delivered, duplicated, lost, and for
``row`` and ``rowbatch`` the rows committed.

Usage (from the repository root)::

    .venvs/py311-dj52/bin/python benchmarks/throughput.py --db postgresql --events 50000 \\
        --workers 1,2,4 --receivers noop,row,rowbatch --repeat 3 --json tp.json \\
        --chart docs/img/tp.png
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _eventproc as ep  # noqa: E402

#: The receivers that write one row per event (their rows are counted too).
WRITERS = ("row", "rowbatch")


def run_case(opts: argparse.Namespace, workers: int, receiver: str) -> dict[str, Any]:
    """Fill the backlog, run ``workers`` processes on it, check the count."""
    from tests.evapp.models import Shelf

    ep.prepare(opts.events, backlog=True)
    expected = _backlog_pks()
    env = ep.child_env(opts.db, "worker", opts.suffix)
    args = {"receiver": receiver, "listen": True, "batch": opts.batch}
    children = [ep.Child("worker", args, env) for _ in range(workers)]
    for child in children:
        child.wait_ready()
    start = time.time() + opts.warmup
    for child in children:
        child.go(start)
    load_before = ep.load()
    done = ep.wait_delivered(600.0 + opts.warmup)
    results = [child.result(stop=True) for child in children]
    elapsed = done - start
    arrivals = [a for r in results for a in r["arrivals"]]
    row = {
        "workers": workers,
        "receiver": receiver,
        "events": opts.events,
        "batch": opts.batch,
        "seconds": elapsed,
        "events_per_s": opts.events / elapsed,
        "per_worker": [r["delivered"] for r in results],
        "load": load_before,
        **ep.check(expected, arrivals),
    }
    if receiver in WRITERS:
        row["rows_written"] = Shelf.objects.count()
    return row


def _backlog_pks() -> list[int]:
    """Return the chapter pks waiting in the inbox (the events expected)."""
    from django.db import connection

    from rowsync.events import inbox
    from tests.evapp.models import Chapter

    (box,) = [b for b in inbox.specs("default") if b.model_label == "evapp.chapter"]
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {q(Chapter._meta.pk.column)} FROM {q(box.inbox)}")
        return [int(pk) for (pk,) in cursor.fetchall()]


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return one row per (receiver, workers): median events/s and the summed checks."""
    rows: list[dict[str, Any]] = []
    for receiver in dict.fromkeys(r["receiver"] for r in runs):
        for workers in sorted({r["workers"] for r in runs if r["receiver"] == receiver}):
            group = [r for r in runs if (r["receiver"], r["workers"]) == (receiver, workers)]
            row: dict[str, Any] = {
                "receiver": receiver,
                "workers": workers,
                "events_per_s": statistics.median(r["events_per_s"] for r in group),
                "events_per_s_all": [round(r["events_per_s"]) for r in group],
                "loads": [r["load"] for r in group],
            }
            for name in ("expected", "delivered", "duplicated", "lost", "unexpected"):
                row[name] = sum(r[name] for r in group)
            if receiver in WRITERS:
                row["rows_written"] = sum(r["rows_written"] for r in group)
            rows.append(row)
        best = max(r["events_per_s"] for r in rows if r["receiver"] == receiver)
        for r in rows:
            if r["receiver"] == receiver:
                r["of_best"] = r["events_per_s"] / best
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    """Print the medians, the share of the best figure and the exact count check."""
    print(
        f"{'receiver':<9}{'workers':>8}{'events/s':>10}{'of best':>9}{'expected':>10}"
        f"{'delivered':>10}{'dup':>5}{'lost':>5}{'rows':>8}  runs (events/s); load"
    )
    for r in rows:
        print(
            f"{r['receiver']:<9}{r['workers']:>8}{r['events_per_s']:>10,.0f}"
            f"{r['of_best']:>9.0%}{r['expected']:>10}{r['delivered']:>10}{r['duplicated']:>5}"
            f"{r['lost']:>5}{r.get('rows_written', '-'):>8}  {r['events_per_s_all']}; "
            f"{r['loads'][-1]}"
        )


def chart(rows: list[dict[str, Any]], path: str) -> None:
    """Draw events/s per worker count, one line per receiver."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for receiver in dict.fromkeys(r["receiver"] for r in rows):
        mine = [r for r in rows if r["receiver"] == receiver]
        xs = [r["workers"] for r in mine]
        ys = [r["events_per_s"] for r in mine]
        ax.plot(xs, ys, marker="o", label=f"{receiver} receiver")
        for x, y in zip(xs, ys, strict=True):
            ax.annotate(
                f"{y:,.0f}",
                (x, y),
                textcoords="offset points",
                xytext=(0, 6),
                ha="center",
                fontsize=8,
            )
    ax.set_xticks(sorted({r["workers"] for r in rows}))
    ax.set_xlabel("worker processes (2 cores)")
    ax.set_ylabel("events per second")
    ax.set_ylim(0, max(r["events_per_s"] for r in rows) * 1.3)
    ax.set_title("rowsync worker throughput, backlog (median of repeats)")
    ax.legend(loc="upper center", ncol=3, fontsize=8)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    """Parse the flags, run every (receiver, workers) ``--repeat`` times, print, save."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="postgresql", help="postgresql, sqlite or mariadb.")
    parser.add_argument("--events", type=int, default=50_000, help="Backlog size.")
    parser.add_argument("--workers", default="1,2,4", help="Worker counts, comma separated.")
    parser.add_argument(
        "--receivers", default="noop,row", help="noop, row, rowbatch; comma separated."
    )
    parser.add_argument("--batch", type=int, default=None, help="ROWSYNC_WORKER_BATCH_SIZE.")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=0.5, help="Seconds before the start.")
    parser.add_argument("--suffix", default="bench_latency", help="Database name suffix.")
    parser.add_argument("--json", default=None, help="Write runs and medians to this file.")
    parser.add_argument("--chart", default=None, help="Draw a PNG chart to this path.")
    parser.add_argument("--from-json", default=None, help="Only print and draw a saved run.")
    opts = parser.parse_args()
    if opts.from_json:
        rows = json.loads(Path(opts.from_json).read_text())["rows"]
        print_table(rows)
        if opts.chart:
            chart(rows, opts.chart)
        return
    os.environ.update(ep.child_env(opts.db, "worker", opts.suffix))
    ep.setup()
    from django.core.management import call_command

    from benchmarks._common import ensure_database

    ensure_database()
    call_command("migrate", verbosity=0)
    runs = []
    for _ in range(opts.repeat):
        for receiver in opts.receivers.split(","):
            for workers in (int(w) for w in opts.workers.split(",")):
                runs.append(run_case(opts, workers, receiver))
                print(json.dumps(runs[-1]), file=sys.stderr)
    rows = summarize(runs)
    import django

    print(
        f"rowsync worker throughput: Python {platform.python_version()}, Django "
        f"{django.get_version()}, {opts.db}, {opts.events} events, median of {opts.repeat}"
    )
    print_table(rows)
    if opts.json:
        meta = {"command": " ".join(sys.argv), "load_end": ep.load()}
        Path(opts.json).write_text(
            json.dumps({"meta": meta, "rows": rows, "runs": runs}, indent=1)
        )
    if opts.chart:
        chart(rows, opts.chart)


if __name__ == "__main__":
    main()
