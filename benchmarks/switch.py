"""The project-wide switch with capture against plain Django: one parent, N children.

Every variant deletes one freshly loaded parent whose N children have a ``post_delete``
receiver, in one transaction, in the same process and run:

* ``django``: plain Django (the models are not selected by ``ROWSYNC_DB_ON_DELETE`` and
  not captured): the Collector loads every child, deletes them and sends post_delete.
* ``switch_transaction`` / ``switch_on_commit`` / ``switch_worker``: the child model is
  selected by ``ROWSYNC_DB_ON_DELETE`` (its Python ``CASCADE`` enforced by the database)
  and captured, in each delivery mode. The Collector leaves the children to the database
  cascade; rowsync delivers their post_delete from the capture (on_commit: after the
  commit, timed; worker: the delete only, the events wait for the worker).
* ``switch_collected``: the same in mode "transaction" with a (no-op) ``pre_delete``
  receiver on the child, which keeps Django's Collector collecting the children (the
  behaviour before the Collector could leave them to the database; the capture rows of
  rows Django signalled are dropped).
* ``raw``: ``DELETE FROM parent`` with the foreign key's ``ON DELETE CASCADE``, no
  trigger (the physical limit); ``raw_triggers``: the same with the capture triggers.

Usage::

    .venvs/py311-dj52/bin/python -m benchmarks.switch --db sqlite --children 100000
    .venvs/py311-dj52/bin/python -m benchmarks.switch --db postgresql --repeat 5 --json out.jsonl
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks._common import configure_capture_benchmark, ensure_database, machine_note
from benchmarks.delete_capture import RECEIVED, _receiver, _run, create_schema, prepare

PARENT = "bench_sw_parent"
CHILD = "bench_sw_child"


def _pre_receiver(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Do nothing: its presence keeps the Collector collecting the children."""


def configure(engine: str, name: str | None) -> None:
    """Configure Django for the benchmark database (the switch on ``SwitchChild`` only)."""
    configure_capture_benchmark(engine, name, ROWSYNC_DB_ON_DELETE=["benchmarks.SwitchChild"])


def set_triggers(on: bool) -> None:
    """Install or remove the capture objects of the child (and its inbox).

    The parent's table gets one too on MariaDB, where InnoDB's cascade fires no trigger:
    the parent's trigger records the children before the cascade removes them.
    """
    from django.db import connection

    from benchmarks.models import SwitchChild, SwitchParent
    from rowsync.backends import get_backend
    from rowsync.events.triggers import capture_objects
    from rowsync.schema import install_objects, uninstall_objects

    backend = get_backend(connection)
    objects = capture_objects(SwitchChild, backend) + capture_objects(SwitchParent, backend)
    uninstall_objects(connection, objects)
    if on:
        install_objects(connection, objects, missing_only=False)


def v_django(pid: int) -> dict[str, Any]:
    from django.db import transaction
    from django.db.models.signals import post_delete

    from benchmarks.models import SwitchChildPlain, SwitchParentPlain

    set_triggers(False)
    parent = SwitchParentPlain.objects.get(pk=pid)
    post_delete.connect(_receiver, sender=SwitchChildPlain)

    def op() -> None:
        with transaction.atomic():
            parent.delete()

    try:
        return _run(op)
    finally:
        post_delete.disconnect(_receiver, sender=SwitchChildPlain)


def _switch(pid: int, mode: str, collected: bool = False) -> dict[str, Any]:
    from django.db import transaction
    from django.db.models.signals import post_delete, pre_delete
    from django.test import override_settings

    from benchmarks.models import SwitchChild, SwitchParent

    set_triggers(True)
    parent = SwitchParent.objects.get(pk=pid)
    post_delete.connect(_receiver, sender=SwitchChild)
    if collected:
        pre_delete.connect(_pre_receiver, sender=SwitchChild)
    marks: dict[str, float] = {}
    try:
        with override_settings(ROWSYNC_DELIVERY=mode):

            def op() -> None:
                start = time.perf_counter()
                with transaction.atomic():
                    marks["count"] = parent.delete()[0]
                    marks["returned"] = time.perf_counter() - start
                marks["total"] = time.perf_counter() - start

            result = _run(op)
    finally:
        post_delete.disconnect(_receiver, sender=SwitchChild)
        pre_delete.disconnect(_pre_receiver, sender=SwitchChild)
    result["delete_ms"] = marks["returned"] * 1000
    result["deleted"] = int(marks["count"])
    return result


def _raw(pid: int, triggers: bool) -> dict[str, Any]:
    from django.db import connection, transaction

    set_triggers(triggers)

    def op() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {connection.ops.quote_name(PARENT)} WHERE id = %s", [pid])

    return _run(op)


#: {variant: (function(parent id) -> result, description)}
VARIANTS: dict[str, tuple[Callable[[int], dict[str, Any]], str]] = {
    "django": (v_django, "plain Django, post_delete receiver on the child"),
    "switch_transaction": (
        lambda pid: _switch(pid, "transaction"),
        "switch + capture, delivery in the transaction",
    ),
    "switch_on_commit": (
        lambda pid: _switch(pid, "on_commit"),
        "switch + capture, delivery on commit (included)",
    ),
    "switch_worker": (
        lambda pid: _switch(pid, "worker"),
        "switch + capture, worker mode (delete only)",
    ),
    "switch_collected": (
        lambda pid: _switch(pid, "transaction", collected=True),
        "switch + capture, children collected (pre_delete receiver)",
    ),
    "raw": (lambda pid: _raw(pid, False), "raw DELETE, ON DELETE CASCADE (limit)"),
    "raw_triggers": (lambda pid: _raw(pid, True), "raw DELETE + capture triggers"),
}


def _expected(name: str, children: int) -> int:
    if name.startswith("raw") or name == "switch_worker":
        return 0
    return children


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgresql", "mariadb"])
    parser.add_argument("--db-name", default=None)
    parser.add_argument("--children", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", default="", help="comma-separated variants")
    parser.add_argument("--json", default=None, help="append one JSON line per variant")
    parser.add_argument("--profile", default=None, help="print a cProfile of one VARIANT run")
    args = parser.parse_args(argv)
    configure(args.db, args.db_name)
    ensure_database()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", "rowsync", verbosity=0)
    create_schema(PARENT, CHILD)
    if args.profile:
        pid = prepare(args.children, PARENT, CHILD)
        profiler = cProfile.Profile()
        profiler.runcall(VARIANTS[args.profile][0], pid)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
        return 0
    names = [n for n in VARIANTS if not args.only or n in args.only.split(",")]
    rng = random.Random(42)
    results: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for _ in range(args.repeat):
        order = names[:]
        rng.shuffle(order)
        for name in order:
            pid = prepare(args.children, PARENT, CHILD)
            res = VARIANTS[name][0](pid)
            results[name].append(res)
            if res["received"] != _expected(name, args.children):
                print(f"CHECK FAILED {name}: {res['received']} received", file=sys.stderr)
                return 1
            if "deleted" in res and res["deleted"] != args.children + 1:
                print(f"CHECK FAILED {name}: delete() counted {res['deleted']}", file=sys.stderr)
                return 1
    RECEIVED[0] = 0

    def median(rows: list[dict[str, Any]], key: str) -> float:
        values = sorted(r.get(key, r["ms"]) for r in rows)
        return values[len(values) // 2]

    base = median(results["django"], "ms") if results.get("django") else None
    print(
        f"# switch: {connection.vendor}, {args.children} children, {args.repeat} repeats; "
        f"{machine_note()}"
    )
    print("| variant | what | median ms | vs plain Django | delete() returns ms |")
    print("|---|---|---:|---:|---:|")
    records = []
    for name in names:
        rows = results[name]
        med = median(rows, "ms")
        ratio = f"{med / base:.2f}x" if base else "-"
        print(
            f"| {name} | {VARIANTS[name][1]} | {med:,.1f} | {ratio} | "
            f"{median(rows, 'delete_ms'):,.1f} |"
        )
        record = {
            "variant": name,
            "db": connection.vendor,
            "children": args.children,
            "median_ms": med,
            "vs_django": med / base if base else None,
            "runs": rows,
        }
        records.append(record)
    for record in records:
        print(json.dumps({k: v for k, v in record.items() if k != "runs"}))
        if args.json:
            with open(args.json, "a") as fh:
                fh.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
