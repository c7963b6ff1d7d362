#!/usr/bin/env python
"""Benchmark delivery latency: from a client's COMMIT returning to the receiver running.

Several client processes delete books at a fixed total rate (open loop: each delete has
its time slot, so a slow delivery never slows the clients down); the database cascades
each book's chapter, captured by rowsync, and a ``post_delete`` receiver for the chapter
records when it ran. Modes (``--modes``):

* ``on_commit``: ``ROWSYNC_DELIVERY = "on_commit"``, the receiver runs in the client
  right after the commit;
* ``notify``: ``ROWSYNC_DELIVERY = "worker"``, one ``rowsync`` worker process woken by
  ``LISTEN/NOTIFY`` (PostgreSQL);
* ``poll``: the same worker without ``LISTEN`` (``ROWSYNC_WORKER_POLL_INTERVAL``, 1 s).

In the worker modes the clients delete with raw SQL on the connection's cursor (as another
program would: the rows wait in the inbox for the worker); ``on_commit`` uses the ORM
delete, whose receivers run in the deleting process.

Commits are durable (the server's ``synchronous_commit`` and ``fsync`` are printed).
Every run checks the count exactly: expected, delivered, duplicated, lost. ``late ms`` is
how far behind its time slot a client's delete started at worst: a large figure means the
clients (not the delivery) could not keep the rate on this machine.

Usage (from the repository root)::

    .venvs/py311-dj52/bin/python benchmarks/latency.py --db postgresql --rates 20,200 \\
        --clients 2 --seconds 10 --repeat 3 --json latency.json --chart docs/img/latency.png
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


def server_settings() -> dict[str, str]:
    """Return the durability settings of the server (PostgreSQL; others: empty)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return {}
    with connection.cursor() as cursor:
        found = {}
        for name in ("synchronous_commit", "fsync", "server_version"):
            cursor.execute(f"SHOW {name}")
            found[name] = cursor.fetchone()[0]
    return found


def run_case(opts: argparse.Namespace, mode: str, rate: float) -> dict[str, Any]:
    """Run one (mode, rate): start the worker, the clients, wait, check, measure."""
    delivery = "on_commit" if mode == "on_commit" else "worker"
    env = ep.child_env(opts.db, delivery, opts.suffix)
    pairs = ep.prepare(int(rate * opts.seconds), backlog=False)
    workers = []
    if mode != "on_commit":
        args = {"receiver": "noop", "listen": mode == "notify", "batch": None}
        workers = [ep.Child("worker", args, env)]
        for child in workers:
            child.wait_ready()
            child.go(time.time())
        time.sleep(1.0)  # the worker has opened its LISTEN channel and gone idle
    clients = [
        ep.Child(
            "client",
            {
                "pairs": pairs[i :: opts.clients],
                "interval": opts.clients / rate,
                "offset": i / rate,
                "receiver": "noop" if mode == "on_commit" else "",
                # The worker modes serve deletes no Django session handles (another program,
                # a cron job): one SQL statement each, cheap enough for 2 clients to keep
                # 200/s on 2 cores.
                "raw": mode != "on_commit",
            },
            env,
        )
        for i in range(opts.clients)
    ]
    for child in clients:
        child.wait_ready()
    start = time.time() + opts.warmup
    for child in clients:
        child.go(start)
    return _finish(mode, rate, pairs, clients, workers)


def _finish(
    mode: str,
    rate: float,
    pairs: list[tuple[int, int]],
    clients: list[ep.Child],
    workers: list[ep.Child],
) -> dict[str, Any]:
    client_results = [c.result() for c in clients]
    ep.wait_delivered(30.0)
    time.sleep(0.2)
    worker_results = [w.result(stop=True) for w in workers]
    commits: dict[int, float] = {}
    arrivals: list[list[float]] = []
    for r in client_results:
        commits.update({int(k): v for k, v in r["commits"].items()})
        arrivals += r["arrivals"]
    for r in worker_results:
        arrivals += r["arrivals"]
    first: dict[int, float] = {}
    for pk, t in arrivals:
        first.setdefault(int(pk), t)
    ms = [1000 * (first[pk] - t) for pk, t in commits.items() if pk in first]
    return {
        "mode": mode,
        "rate": rate,
        "clients": len(clients),
        "p50_ms": ep.percentile(ms, 50),
        "p95_ms": ep.percentile(ms, 95),
        "p99_ms": ep.percentile(ms, 99),
        "max_ms": max(ms, default=float("nan")),
        "client_late_max_ms": 1000 * max(r["late_max"] for r in client_results),
        "notified": sum(r["notified"] for r in worker_results),
        "failed_attempts": sum(r.get("failed", 0) for r in worker_results),
        "dead_letters": sum(r.get("dead", 0) for r in worker_results),
        "load": ep.load(),
        **ep.check((c for _b, c in pairs), arrivals),
    }


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return one row per (mode, rate): the median of each figure over the repeats."""
    rows: list[dict[str, Any]] = []
    keys = sorted({(r["mode"], r["rate"]) for r in runs}, key=lambda k: (MODES.index(k[0]), k[1]))
    for mode, rate in keys:
        group = [r for r in runs if (r["mode"], r["rate"]) == (mode, rate)]
        row: dict[str, Any] = {"mode": mode, "rate": rate, "repeats": len(group)}
        for name in ("p50_ms", "p95_ms", "p99_ms", "max_ms", "client_late_max_ms"):
            values = [r[name] for r in group if r[name] == r[name]]  # a run that delivered
            row[name] = statistics.median(values) if values else float("nan")  # nothing: NaN
            row[name.replace("_ms", "_all")] = [round(r[name], 2) for r in group]
        for name in ("expected", "delivered", "duplicated", "lost", "unexpected"):
            row[name] = sum(r[name] for r in group)
        row["loads"] = [r["load"] for r in group]
        rows.append(row)
    return rows


MODES = ("on_commit", "notify", "poll")


def print_table(rows: list[dict[str, Any]]) -> None:
    """Print the medians and the exact count check."""
    print(
        f"{'mode':<10}{'rate/s':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'late ms':>9}{'expected':>10}{'delivered':>10}{'dup':>5}{'lost':>5}  load (1/5/15 min)"
    )
    for r in rows:
        print(
            f"{r['mode']:<10}{r['rate']:>7g}{r['p50_ms']:>9.2f}{r['p95_ms']:>9.2f}"
            f"{r['p99_ms']:>9.2f}{r['max_ms']:>9.1f}{r['client_late_max_ms']:>9.0f}"
            f"{r['expected']:>10}{r['delivered']:>10}"
            f"{r['duplicated']:>5}{r['lost']:>5}  {r['loads'][-1]}"
        )


def chart(rows: list[dict[str, Any]], path: str) -> None:
    """Draw p50/p95/p99 per (mode, rate) as grouped bars on a log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['mode']}\n{r['rate']:g}/s" for r in rows]
    fig, ax = plt.subplots(figsize=(8, 4.2))
    width = 0.27
    for offset, name in enumerate(("p50_ms", "p95_ms", "p99_ms")):
        xs = [i + (offset - 1) * width for i in range(len(rows))]
        bars = ax.bar(xs, [r[name] for r in rows], width, label=name.split("_")[0])
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(range(len(rows)), labels)
    ax.set_yscale("log")
    ax.set_ylabel("commit -> receiver (ms, log)")
    ax.set_title("rowsync delivery latency, durable commits (median of repeats)")
    ax.legend()
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    """Parse the flags, run every (mode, rate) ``--repeat`` times, print, save."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="postgresql", help="postgresql, sqlite or mariadb.")
    parser.add_argument("--modes", default=",".join(MODES), help="Comma separated.")
    parser.add_argument("--rates", default="20,200", help="Deletes per second, comma separated.")
    parser.add_argument("--clients", type=int, default=2, help="Client processes.")
    parser.add_argument("--seconds", type=float, default=10.0, help="Length of one run.")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=0.5, help="Seconds before the start.")
    parser.add_argument("--suffix", default="bench_latency", help="Database name suffix.")
    parser.add_argument("--json", default=None, help="Write runs and medians to this file.")
    parser.add_argument("--chart", default=None, help="Draw a PNG chart to this path.")
    parser.add_argument("--from-json", default=None, help="Only print and draw a saved run.")
    opts = parser.parse_args()
    if opts.from_json:
        report(opts, json.loads(Path(opts.from_json).read_text())["runs"], {})
        return
    os.environ.update(ep.child_env(opts.db, "worker", opts.suffix))
    ep.setup()
    from django.core.management import call_command

    from benchmarks._common import ensure_database

    ensure_database()
    call_command("migrate", verbosity=0)
    server = server_settings()
    runs = []
    for _ in range(opts.repeat):
        for mode in opts.modes.split(","):
            for rate in (float(r) for r in opts.rates.split(",")):
                runs.append(run_case(opts, mode, rate))
                print(json.dumps(runs[-1]), file=sys.stderr)
    report(opts, runs, server)


def report(opts: argparse.Namespace, runs: list[dict[str, Any]], server: dict[str, str]) -> None:
    """Print the table of medians; write the JSON and the chart when asked."""
    rows = summarize(runs)
    import django

    print(
        f"rowsync latency: Python {platform.python_version()}, Django {django.get_version()}, "
        f"{opts.db} {server}, {opts.clients} clients, {opts.seconds:g} s per run, "
        f"median of {opts.repeat}"
    )
    print_table(rows)
    if opts.json:
        meta = {"server": server, "command": " ".join(sys.argv), "load_end": ep.load()}
        Path(opts.json).write_text(
            json.dumps({"meta": meta, "rows": rows, "runs": runs}, indent=1)
        )
    if opts.chart:
        chart(rows, opts.chart)


if __name__ == "__main__":
    main()
