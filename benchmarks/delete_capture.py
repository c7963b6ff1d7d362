"""Delete one parent with N children that have a post_delete receiver: capture variants.

Variants (each one run per repeat, in a shuffled order, on a freshly loaded parent):

* ``collector``: Django's collector with a receiver on the child (it loads and deletes
  every child in Python, then sends post_delete for each) - the baseline.
* ``raw``: ``DELETE FROM parent`` with the FK's ``ON DELETE CASCADE``, no triggers - the
  physical limit.
* ``raw_trigger_floor``: the same with a do-nothing trigger of the kind rowsync uses
  (PostgreSQL: statement-level with a transition table; SQLite and MariaDB: row-level):
  what firing a trigger costs before it writes anything.
* ``raw_triggers``: the same with rowsync's capture triggers installed (rows recorded).
* ``rowsync_transaction``: ``parent.delete()`` on the database-cascading model, every
  child's post_delete delivered in the same transaction (streamed in batches).
* ``rowsync_on_commit``: the same in on-commit mode; ``delete()`` returns before any
  delivery (timed: the delete; ``extra.total_ms``: delete + commit + delivery).
* ``rowsync_worker``: worker mode: ``delete()`` returns with the events pending.

``benchmarks/delete.py`` imports :data:`VARIANTS` and :func:`prepare`.

Usage::

    .venvs/py311-dj52/bin/python -m benchmarks.delete_capture --db sqlite --children 100000
    .venvs/py311-dj52/bin/python -m benchmarks.delete_capture --db postgresql --repeat 5
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks._common import configure_capture_benchmark, ensure_database, machine_note

RECEIVED = [0]


def _receiver(sender: Any, instance: Any, **kwargs: Any) -> None:
    RECEIVED[0] += 1


def configure(engine: str, name: str | None) -> None:
    """Configure Django for the benchmark database."""
    configure_capture_benchmark(engine, name)


def _rss_peak_reset() -> int:
    """Reset the process's peak RSS (Linux) and return the current RSS in bytes."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    return _status("VmRSS")


def _status(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def create_schema(parent: str = "bench_cap_parent", child: str = "bench_cap_child") -> None:
    """(Re)create the two tables with an ``ON DELETE CASCADE`` foreign key."""
    from django.db import connection

    q = connection.ops.quote_name
    pk = {
        "sqlite": "integer PRIMARY KEY AUTOINCREMENT",
        "postgresql": "bigserial PRIMARY KEY",
        "mysql": "bigint AUTO_INCREMENT PRIMARY KEY",
    }[connection.vendor]
    ts = "timestamp with time zone" if connection.vendor == "postgresql" else "datetime(6)"
    if connection.vendor == "sqlite":
        ts = "datetime"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {q(child)}")
        cursor.execute(f"DROP TABLE IF EXISTS {q(parent)}")
        cursor.execute(f"CREATE TABLE {q(parent)} (id {pk}, name varchar(32) NOT NULL)")
        cursor.execute(
            f"CREATE TABLE {q(child)} (id {pk}, "
            f"parent_id bigint NOT NULL REFERENCES {q(parent)} (id) "
            "ON DELETE CASCADE, name varchar(32) NOT NULL, amount integer NOT NULL, "
            f"created {ts} NOT NULL)"
        )
        cursor.execute(f"CREATE INDEX {child}_parent ON {q(child)} (parent_id)")


def set_triggers(on: bool) -> None:
    """Install or remove the capture triggers of the child table."""
    from django.db import connection

    from benchmarks.models import CapChildDb
    from rowsync.backends import get_backend
    from rowsync.events.triggers import capture_objects
    from rowsync.schema import install_objects, uninstall_objects

    objects = capture_objects(CapChildDb, get_backend(connection))
    uninstall_objects(connection, objects)
    if on:
        install_objects(connection, objects, missing_only=False)


def prepare(
    children: int, parent: str = "bench_cap_parent", child: str = "bench_cap_child"
) -> int:
    """Insert one parent with ``children`` children (set-based SQL); return its id."""
    from django.db import connection, transaction

    from rowsync.models import DeletedRow

    q = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        DeletedRow.objects.all().delete()
        cursor.execute(f"DELETE FROM {q(parent)}")
        cursor.execute(f"INSERT INTO {q(parent)} (name) VALUES ('p')")
        cursor.execute(f"SELECT MAX(id) FROM {q(parent)}")
        (pid,) = cursor.fetchone()
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {q(child)} (parent_id, name, amount, created) "
                "SELECT %s, 'child ' || g, g, now() FROM generate_series(1, %s) g",
                [pid, children],
            )
        else:
            if connection.vendor == "mysql":
                # The recursive generator below runs one iteration per child.
                variable = (
                    "max_recursive_iterations"
                    if connection.mysql_is_mariadb
                    else "cte_max_recursion_depth"
                )
                cursor.execute(f"SET SESSION {variable} = %s", [children + 1])
            cursor.execute(
                f"INSERT INTO {q(child)} (parent_id, name, amount, created) "
                "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < %s) "
                "SELECT %s, 'child', n, CURRENT_TIMESTAMP FROM g",
                [children, pid],
            )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {q(child)}")
    return int(pid)


def _patched(on: bool) -> None:
    from django.db.models.deletion import Collector

    current = Collector.delete
    original = getattr(current, "_rowsync_original", None)
    if not on and original is not None:
        Collector._rowsync_saved = current  # type: ignore[attr-defined]
        Collector.delete = original  # type: ignore[method-assign]
    if on and original is None and hasattr(Collector, "_rowsync_saved"):
        Collector.delete = Collector._rowsync_saved  # type: ignore[attr-defined]


def v_collector(pid: int) -> dict[str, Any]:
    from django.db.models.signals import post_delete

    from benchmarks.models import CapChildPy, CapParentPy

    set_triggers(False)
    _patched(False)
    parent = CapParentPy.objects.get(pk=pid)
    post_delete.connect(_receiver, sender=CapChildPy)
    try:
        return _run(lambda: parent.delete())
    finally:
        post_delete.disconnect(_receiver, sender=CapChildPy)
        _patched(True)


def _raw(pid: int, triggers: bool) -> dict[str, Any]:
    from django.db import connection, transaction

    set_triggers(triggers)

    def op() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {connection.ops.quote_name('bench_cap_parent')} WHERE id = %s",
                [pid],
            )

    return _run(op)


def _floor_trigger(on: bool) -> None:
    from django.db import connection

    q = connection.ops.quote_name
    child = q("bench_cap_child")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP TRIGGER IF EXISTS bench_floor ON {child}")
            if on:
                cursor.execute(
                    "CREATE OR REPLACE FUNCTION bench_floor() RETURNS trigger LANGUAGE plpgsql "
                    "AS $$ BEGIN RETURN NULL; END $$"
                )
                cursor.execute(
                    f"CREATE TRIGGER bench_floor AFTER DELETE ON {child} REFERENCING OLD TABLE "
                    "AS o FOR EACH STATEMENT EXECUTE FUNCTION bench_floor()"
                )
        else:
            cursor.execute("DROP TRIGGER IF EXISTS bench_floor")
            if on:
                body = "SET @bench_floor = 1" if connection.vendor == "mysql" else "SELECT 1"
                cursor.execute(
                    f"CREATE TRIGGER bench_floor AFTER DELETE ON {child} FOR EACH ROW "
                    f"BEGIN {body}; END"
                )


def v_raw_trigger_floor(pid: int) -> dict[str, Any]:
    _floor_trigger(True)
    try:
        return _raw(pid, False)
    finally:
        _floor_trigger(False)


def v_raw(pid: int) -> dict[str, Any]:
    return _raw(pid, False)


def v_raw_triggers(pid: int) -> dict[str, Any]:
    return _raw(pid, True)


def _rowsync(pid: int, mode: str) -> dict[str, Any]:
    from django.db import transaction
    from django.db.models.signals import post_delete
    from django.test import override_settings

    from benchmarks.models import CapChildDb, CapParentDb

    set_triggers(True)
    parent = CapParentDb.objects.get(pk=pid)
    post_delete.connect(_receiver, sender=CapChildDb)
    marks: dict[str, float] = {}
    try:
        with override_settings(ROWSYNC_DELIVERY=mode):

            def op() -> None:
                start = time.perf_counter()
                with transaction.atomic():
                    parent.delete()
                    marks["returned"] = time.perf_counter() - start
                marks["total"] = time.perf_counter() - start

            result = _run(op)
    finally:
        post_delete.disconnect(_receiver, sender=CapChildDb)
    result["delete_ms"] = marks["returned"] * 1000
    result["total_ms"] = marks["total"] * 1000
    return result


def v_rowsync_transaction(pid: int) -> dict[str, Any]:
    return _rowsync(pid, "transaction")


def v_rowsync_on_commit(pid: int) -> dict[str, Any]:
    return _rowsync(pid, "on_commit")


def v_rowsync_worker(pid: int) -> dict[str, Any]:
    return _rowsync(pid, "worker")


def _run(op: Callable[[], Any]) -> dict[str, Any]:
    RECEIVED[0] = 0
    gc.collect()
    base = _rss_peak_reset()
    start = time.perf_counter()
    op()
    elapsed = time.perf_counter() - start
    peak = _status("VmHWM")
    return {"ms": elapsed * 1000, "peak_mb": (peak - base) / 2**20, "received": RECEIVED[0]}


#: {variant: (function(parent id) -> result, description)}
VARIANTS: dict[str, tuple[Callable[[int], dict[str, Any]], str]] = {
    "collector": (v_collector, "Django collector, post_delete receiver on the child"),
    "raw": (v_raw, "raw DELETE, FK ON DELETE CASCADE (limit)"),
    "raw_trigger_floor": (v_raw_trigger_floor, "raw DELETE + an empty trigger (floor)"),
    "raw_triggers": (v_raw_triggers, "raw DELETE + rowsync capture triggers"),
    "rowsync_transaction": (v_rowsync_transaction, "rowsync, delivery in the transaction"),
    "rowsync_on_commit": (v_rowsync_on_commit, "rowsync, delivery on commit"),
    "rowsync_worker": (v_rowsync_worker, "rowsync, worker mode (delete only)"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgresql", "mariadb"])
    parser.add_argument("--db-name", default=None)
    parser.add_argument("--children", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    configure(args.db, args.db_name)
    ensure_database()
    from django.core.management import call_command

    call_command("migrate", "rowsync", verbosity=0)
    create_schema()
    from django.db import connection

    names = [n for n in VARIANTS if not args.only or n in args.only.split(",")]
    rng = random.Random(42)
    results: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for _ in range(args.repeat):
        order = names[:]
        rng.shuffle(order)
        for name in order:
            pid = prepare(args.children)
            res = VARIANTS[name][0](pid)
            results[name].append(res)
            expected = 0 if name.startswith("raw") or name == "rowsync_worker" else args.children
            if res["received"] != expected:
                print(f"CHECK FAILED {name}: {res['received']} != {expected}", file=sys.stderr)
                return 1
    print(
        f"# delete_capture: {connection.vendor}, {args.children} children, "
        f"{args.repeat} repeats; {machine_note()}"
    )
    base = {}
    for name in ("raw", "collector"):
        if name in results and results[name]:
            base[name] = sorted(r["ms"] for r in results[name])[len(results[name]) // 2]
    print(
        "| variant | what | median ms | vs raw | vs collector | delete() returns ms "
        "| peak RSS +MB |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for name in names:
        rows = results[name]
        med = sorted(r["ms"] for r in rows)[len(rows) // 2]
        ret = sorted(r.get("delete_ms", r["ms"]) for r in rows)[len(rows) // 2]
        peak = sorted(r["peak_mb"] for r in rows)[len(rows) // 2]
        vs_raw = f"{med / base['raw']:.2f}x" if "raw" in base else "-"
        vs_col = f"{med / base['collector']:.2f}x" if "collector" in base else "-"
        print(
            f"| {name} | {VARIANTS[name][1]} | {med:,.1f} | {vs_raw} | {vs_col} | "
            f"{ret:,.1f} | {peak:.1f} |"
        )
        if args.json:
            with open(args.json, "a") as fh:
                fh.write(
                    json.dumps(
                        {
                            "variant": name,
                            "db": connection.vendor,
                            "children": args.children,
                            "runs": rows,
                        }
                    )
                    + "\n"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
