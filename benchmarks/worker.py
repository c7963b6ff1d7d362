#!/usr/bin/env python
"""Benchmark the event worker: events per second with a no-op ``post_delete`` receiver.

Builds a throw-away database per engine (Django's test-database machinery, with every
migration), puts N pending events in place, connects one receiver that does nothing, and
times ``Worker.run(drain=True)``: claim, rebuild the instance, send ``post_delete``,
delete the events, commit, batch after batch. Sources (``--source``):

* ``queue``: events for the captured ``evapp.Chapter`` (three columns) written straight
  into the event table (workers deliver events of captured models only);
* ``capture``: rows of ``evapp.Chapter`` deleted with raw SQL, recorded by the capture
  triggers (into the inbox on SQLite and PostgreSQL: the worker moves them into the
  event table first, and that is timed too).

Prints a table and, with ``--json``, writes the figures as JSON.

Usage (from the repository root)::

    .venvs/py311-dj52/bin/python benchmarks/worker.py --db postgresql,sqlite \\
        --events 100000 --batch 500,2000 --source queue,capture --repeat 3 --json worker.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def run_engine(
    engine: str, events: int, batches: list[int], repeat: int, sources: str
) -> list[dict[str, Any]]:
    """Run the measurements for one engine in a child process (settings are per process)."""
    env = dict(
        os.environ,
        ROWSYNC_TEST_DB=engine,
        ROWSYNC_TEST_DB_SUFFIX=os.environ.get("ROWSYNC_BENCH_SUFFIX", "bench_worker"),
        ROWSYNC_TEST_SQLITE_DIR=os.environ.get("ROWSYNC_BENCH_SQLITE_DIR", "/tmp"),
        DJANGO_SETTINGS_MODULE="tests.settings",
        PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT), str(ROOT / "example")]),
    )
    args = [sys.executable, __file__, "--child", engine, "--events", str(events)]
    args += ["--batch", ",".join(map(str, batches)), "--repeat", str(repeat)]
    args += ["--source", sources]
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{engine}: benchmark failed\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _fill_queue(events: int) -> None:
    from rowsync.models import DeletedRow

    rows = [
        DeletedRow(
            model_label="evapp.chapter",
            table_name="evapp_chapter",
            pk_text=str(pk),
            row={"id": pk, "title": f"chapter {pk}", "book_id": 1},
        )
        for pk in range(1, events + 1)
    ]
    DeletedRow.objects.bulk_create(rows, batch_size=5000)


def _fill_capture(events: int) -> None:
    from django.db import connection, transaction

    from tests.evapp.models import Author, Book, Chapter

    book = Book.objects.create(author=Author.objects.create(name="bench"), title="b")
    Chapter.objects.bulk_create(
        (Chapter(book=book, title=f"chapter {i}") for i in range(events)), batch_size=5000
    )
    q = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {q('evapp_chapter')} WHERE {q('book_id')} = %s", [book.pk])


def child(engine: str, events: int, batches: list[int], repeat: int, sources: list[str]) -> None:
    import django

    django.setup()
    from django.db import connection
    from django.db.models.signals import post_delete

    from rowsync.events.claim import pending_count
    from rowsync.events.retry import RetryPolicy
    from rowsync.events.worker import Worker
    from rowsync.models import DeletedRow

    def noop(sender: Any, **kwargs: Any) -> None:
        pass

    from tests.evapp.models import Chapter

    post_delete.connect(noop, sender=Chapter, weak=False)
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    results = []
    try:
        for source in sources:
            for batch in batches:
                rates = []
                for _ in range(repeat):
                    DeletedRow.objects.all().delete()
                    (_fill_queue if source == "queue" else _fill_capture)(events)
                    worker = Worker(
                        "default",
                        batch_size=batch,
                        policy=RetryPolicy(),
                        listen=False,
                        progress_interval=0,
                        report=lambda line: None,
                    )
                    started = time.perf_counter()
                    stats = worker.run(drain=True)
                    elapsed = time.perf_counter() - started
                    assert stats.delivered == events, stats
                    assert pending_count("default") == 0
                    rates.append(events / elapsed)
                results.append(
                    {
                        "engine": engine,
                        "source": source,
                        "strategy": worker.strategy,
                        "events": events,
                        "batch": batch,
                        "repeat": repeat,
                        "events_per_s_median": round(statistics.median(rates)),
                        "events_per_s_all": [round(r) for r in rates],
                        "us_per_event": round(1e6 / statistics.median(rates), 1),
                    }
                )
    finally:
        connection.creation.destroy_test_db(
            connection.settings_dict["NAME"], verbosity=0, keepdb=False
        )
    print(json.dumps(results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="postgresql,sqlite", help="Engines, comma separated.")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", default="500,2000", help="Batch sizes, comma separated.")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--source",
        default="queue,capture",
        help="Event sources (queue, capture), comma separated.",
    )
    parser.add_argument("--json", default=None, help="Write the results to this file.")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    opts = parser.parse_args()
    batches = [int(b) for b in opts.batch.split(",")]
    if opts.child:
        child(opts.child, opts.events, batches, opts.repeat, opts.source.split(","))
        return
    results: list[dict[str, Any]] = []
    for engine in opts.db.split(","):
        results += run_engine(engine, opts.events, batches, opts.repeat, opts.source)
    import django

    print(
        f"rowsync worker benchmark: Python {platform.python_version()}, Django "
        f"{django.get_version()}, {opts.events} events, no-op post_delete receiver, "
        f"median of {opts.repeat}"
    )
    print(
        f"{'engine':<12}{'source':<9}{'strategy':<13}{'batch':>7}{'events/s':>11}{'us/event':>10}"
    )
    for r in results:
        print(
            f"{r['engine']:<12}{r['source']:<9}{r['strategy']:<13}{r['batch']:>7}"
            f"{r['events_per_s_median']:>11}{r['us_per_event']:>10}"
        )
    if opts.json:
        meta = {
            "python": platform.python_version(),
            "django": django.get_version(),
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
        }
        Path(opts.json).write_text(json.dumps({"meta": meta, "results": results}, indent=2))


if __name__ == "__main__":
    main()
