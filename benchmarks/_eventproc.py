"""The processes of the latency and throughput benchmarks: clients, workers, receivers.

Run by ``benchmarks/latency.py`` and ``benchmarks/throughput.py`` as
``python benchmarks/_eventproc.py ROLE JSON-ARGS`` with ``DJANGO_SETTINGS_MODULE=
benchmarks.event_settings``; each writes its findings as JSON into ``args["out"]``.

Every time is ``time.time()`` of the same machine (a clock shared by the processes):

* a client registers ``transaction.on_commit(mark)`` before its delete, so ``mark`` runs
  first after the commit returned and records when the commit came back;
* a receiver records, per chapter, when it ran (``arrivals``).

Latency is ``arrival - commit``, per chapter, joined by the parent.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: rowsync's source tree under test (``ROWSYNC_BENCH_SRC``: compare another checkout).
SRC = Path(os.environ.get("ROWSYNC_BENCH_SRC", ROOT / "src"))


def child_env(engine: str, delivery: str, suffix: str) -> dict[str, str]:
    """Return the environment of a benchmark process."""
    return dict(
        os.environ,
        ROWSYNC_TEST_DB=engine,
        ROWSYNC_TEST_DB_SUFFIX=suffix,
        ROWSYNC_BENCH_DELIVERY=delivery,
        DJANGO_SETTINGS_MODULE="benchmarks.event_settings",
        PYTHONPATH=os.pathsep.join([str(SRC), str(ROOT), str(ROOT / "example")]),
    )


def setup() -> None:
    """Set Django up in this process (the parent or a child)."""
    for path in (ROOT, ROOT / "example", SRC):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    import django

    django.setup()


def connect_receiver(kind: str, arrivals: list[tuple[int, float]]) -> None:
    """Connect a receiver for ``evapp.Chapter`` that records its calls.

    Args:
        kind: ``noop`` (records only), ``row`` (also inserts one ``evapp.Shelf`` row with
            the ORM per event, inside the worker's transaction) or ``rowbatch`` (a
            ``post_delete_batch`` receiver: one ``bulk_create`` of the batch's rows).
        arrivals: Receives ``(chapter pk, time.time())`` per instance.
    """
    from django.db.models.signals import post_delete

    from tests.evapp.models import Chapter, Shelf

    now = time.time
    if kind == "rowbatch":
        from rowsync.events.signals import post_delete_batch

        def rowbatch(sender: Any, instances: list[Any], **kwargs: Any) -> None:
            Shelf.objects.bulk_create([Shelf(name=str(i.pk)) for i in instances])
            at = now()
            arrivals.extend((i.pk, at) for i in instances)

        post_delete_batch.connect(rowbatch, sender=Chapter, weak=False)
        return

    def noop(sender: Any, instance: Any, **kwargs: Any) -> None:
        arrivals.append((instance.pk, now()))

    def row(sender: Any, instance: Any, **kwargs: Any) -> None:
        Shelf.objects.create(name=str(instance.pk))
        arrivals.append((instance.pk, now()))

    post_delete.connect(noop if kind == "noop" else row, sender=Chapter, weak=False)


def prepare(count: int, *, backlog: bool) -> list[tuple[int, int]]:
    """Empty the tables, then create ``count`` books with one chapter each.

    With ``backlog``, delete the chapters at once with raw SQL (the capture triggers
    record them, unclaimed: a backlog for the workers) and return nothing.

    Returns:
        ``[(book pk, chapter pk)]``.
    """
    from django.db import connection, transaction

    from rowsync.events import inbox
    from rowsync.models import DeletedRow
    from tests.evapp.models import Author, Book, Chapter, Shelf

    Shelf.objects.all()._raw_delete("default")
    Chapter.objects.all()._raw_delete("default")
    Book.objects.all()._raw_delete("default")
    inbox.clear("default")  # the capture triggers recorded the rows just deleted
    DeletedRow.objects.all()._raw_delete("default")
    vacuum([Shelf, Chapter, Book, Author, DeletedRow])
    author = Author.objects.create(name="bench")
    books = Book.objects.bulk_create(
        [Book(author=author, title=str(i)) for i in range(1 if backlog else count)],
        batch_size=5000,
    )
    chapters = Chapter.objects.bulk_create(
        [Chapter(book=books[0 if backlog else i], title=str(i)) for i in range(count)],
        batch_size=5000,
    )
    if backlog:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {connection.ops.quote_name('evapp_chapter')}")
        return []
    return [(c.book_id, c.pk) for c in chapters]


def vacuum(models: Iterable[Any]) -> None:
    """Reclaim the dead rows of ``models``' tables and of the inboxes (PostgreSQL).

    Every run deletes its rows several times over (chapters, inbox rows, events); with
    autovacuum off or behind, the dead rows of all earlier runs would be scanned again by
    every later one (the inbox checks, the take's index walk) and make runs depend on
    what ran before.
    """
    from django.db import connection

    from rowsync.events import inbox

    if connection.vendor != "postgresql":
        return
    tables = [m._meta.db_table for m in models]
    tables += [box.inbox for box in inbox.present("default", inbox.specs("default"))]
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) " + ", ".join(q(t) for t in dict.fromkeys(tables)))


def _wait_until(moment: float) -> None:
    left = moment - time.time()
    if left > 0:
        time.sleep(left)


def client(args: dict[str, Any]) -> dict[str, Any]:
    """Delete one book per tick (its chapter goes by the database's cascade).

    Args (keys): ``pairs`` (book, chapter), ``start`` (epoch), ``offset`` and
    ``interval`` (seconds), ``receiver`` (on-commit runs: the receiver runs in this process),
    ``raw`` (delete with one SQL statement on the connection's cursor, as another program
    would: no Django delete, no capture session; the rows wait for the worker).
    """
    from django.db import connection, transaction

    from tests.evapp.models import Book

    delete_sql = (
        f"DELETE FROM {connection.ops.quote_name(Book._meta.db_table)} "
        f"WHERE {connection.ops.quote_name(Book._meta.pk.column)} = %s"
    )

    arrivals: list[tuple[int, float]] = []
    if args.get("receiver"):
        connect_receiver(args["receiver"], arrivals)
    commits: dict[int, float] = {}
    late: list[float] = []
    Book.objects.exists()  # connect before the clock starts
    for tick, (book, chapter) in enumerate(args["pairs"]):
        due = args["start"] + args["offset"] + tick * args["interval"]
        _wait_until(due)
        late.append(time.time() - due)

        def mark(chapter: int = chapter) -> None:
            commits[chapter] = time.time()

        with transaction.atomic():
            transaction.on_commit(mark)
            if args.get("raw"):
                with connection.cursor() as cursor:
                    cursor.execute(delete_sql, [book])
            else:
                Book.objects.filter(pk=book).delete()
    return {"commits": commits, "arrivals": arrivals, "late_max": max(late, default=0.0)}


def worker(args: dict[str, Any]) -> dict[str, Any]:
    """Run one event worker until SIGTERM (or, with ``drain``, until nothing is due).

    Args (keys): ``receiver``, ``listen``, ``batch``, ``drain``, ``start`` (epoch to
    begin at, 0: at once).
    """
    from django.db import connections

    from rowsync.events.retry import RetryPolicy
    from rowsync.events.worker import Worker

    arrivals: list[tuple[int, float]] = []
    connect_receiver(args["receiver"], arrivals)
    runner = Worker(
        "default",
        batch_size=args.get("batch"),
        policy=RetryPolicy(),
        listen=args["listen"],
        progress_interval=0,
        report=lambda line: None,
    )
    runner.install_signal_handlers()
    connections["default"].ensure_connection()
    _wait_until(args.get("start", 0.0))
    began = time.time()
    stats = runner.run(drain=args.get("drain", False))
    return {
        "began": began,
        "ended": time.time(),
        "arrivals": arrivals,
        "delivered": stats.delivered,
        "notified": stats.notified,
        "failed": stats.failed,
        "dead": stats.dead,
        "batches": stats.batches,
    }


# --- the parent's side --------------------------------------------------------------------


class Child:
    """A benchmark process started by the parent; its result is read from a file."""

    def __init__(self, role: str, args: dict[str, Any], env: dict[str, str]) -> None:
        fd, out = tempfile.mkstemp(prefix=f"rowsync_{role}_", suffix=".json")
        os.close(fd)
        self.out = Path(out)
        payload = json.dumps({**args, "out": out})
        self.proc = subprocess.Popen(
            [sys.executable, __file__, role, payload],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def wait_ready(self) -> None:
        """Block until the process has set Django up."""
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            raise SystemExit(f"benchmark process failed to start: {line!r}")

    def go(self, start: float) -> None:
        """Tell the ready process when to begin (``time.time()``)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{start!r}\n")
        self.proc.stdin.close()

    def result(self, *, stop: bool = False, timeout: float = 900.0) -> dict[str, Any]:
        """Stop the process (SIGTERM) if asked, wait for it, return its JSON result."""
        if stop:
            self.proc.send_signal(signal.SIGTERM)
        if self.proc.wait(timeout) != 0:
            raise SystemExit(f"benchmark process exited with {self.proc.returncode}")
        data: dict[str, Any] = json.loads(self.out.read_text())
        self.out.unlink()
        return data


def anything_pending() -> bool:
    """Return whether an event waits (in the event table or an inbox), with cheap queries."""
    from rowsync.events import inbox
    from rowsync.models import DeletedRow

    # The inboxes first: rows only ever move from an inbox into the event table, so a
    # refill committing between the two queries cannot hide them.
    boxes = inbox.present("default", inbox.specs("default"))
    if hasattr(inbox, "holding") and inbox.holding("default", boxes):
        return True
    if not hasattr(inbox, "holding") and inbox.pending_count("default"):  # older trees
        return True
    return DeletedRow.objects.filter(status=DeletedRow.Status.PENDING).exists()


def wait_delivered(timeout: float, interval: float = 0.01) -> float:
    """Poll until no event is pending (every transaction that took one committed).

    Returns:
        The moment (``time.time()``) it was first seen empty.
    """
    from django.db import connection

    deadline = time.time() + timeout
    while anything_pending() and time.time() < deadline:
        time.sleep(interval)
    seen = time.time()
    connection.close()
    return seen


def check(expected: Iterable[int], arrivals: Iterable[Sequence[float]]) -> dict[str, int]:
    """Return the exact count check: expected / delivered / duplicated / lost / unexpected."""
    wanted = set(expected)
    calls = [int(pk) for pk, _t in arrivals]
    got = set(calls)
    return {
        "expected": len(wanted),
        "delivered": len(got & wanted),
        "duplicated": len(calls) - len(got),
        "lost": len(wanted - got),
        "unexpected": len(got - wanted),
    }


def percentile(values: Sequence[float], q: float) -> float:
    """Return the ``q``-th percentile (nearest rank) of ``values`` (NaN when empty)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def load() -> str:
    """Return the load averages, as ``uptime`` prints them."""
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def main() -> None:
    """Run one role: ``client`` or ``worker``; write the JSON result to ``args["out"]``."""
    role, raw = sys.argv[1], sys.argv[2]
    args = json.loads(raw)
    setup()
    from django.db import connections

    connections["default"].ensure_connection()
    print("ready", flush=True)
    args["start"] = args.get("start") or float(sys.stdin.readline())
    result = {"client": client, "worker": worker}[role](args)
    Path(args["out"]).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
