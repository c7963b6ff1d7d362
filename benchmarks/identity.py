"""Benchmark the identity map against plain Django, in one process, on one database.

Two identical tables are loaded with the same rows: ``PlainRow`` (not mapped: plain
Django) and ``MappedRow`` (selected by ``ROWSYNC_IDENTITY_MAP``). Every repeat runs
every variant once, in a shuffled order, after a full garbage collection:

* ``get_plain``: ``PlainRow.objects.get(pk=...)``, random keys (the baseline);
* ``get_map_hit``: ``MappedRow.objects.get(pk=...)`` while the rows are held, so the
  map can answer (target: 100x faster, on SQLite and PostgreSQL);
* ``get_map_miss``: the same with an empty map (the row is loaded and registered);
* ``get_raw_sql``: ``cursor.execute(SELECT ... WHERE id = %s)`` + ``fetchone()``;
* ``dict_lookup``: ``dict.get((Model, pk))`` on a dict of every row (the floor);
* ``iter_cold_plain``: ``list(PlainRow.objects.all())`` (the baseline);
* ``iter_cold_map``: ``list(MappedRow.objects.all())`` into an empty map (target 1.10x);
* ``iter_warm_map``: the same while every row is already mapped and held (target 0.6x).

Peak and held memory come from a separate tracemalloc pass (tracing slows Python
down, so it never overlaps a timed run). SQL counts come from a separate pass with
``connection.execute_wrapper``.

Usage (from the repository root)::

    .venvs/py311-dj52/bin/python -m benchmarks.identity --db sqlite
    .venvs/py311-dj52/bin/python -m benchmarks.identity --db postgresql --rows 100000 \
        --repeat 7 --json /tmp/identity.jsonl
    .venvs/py311-dj52/bin/python -m benchmarks.identity --profile iter_cold_map
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime
import gc
import io
import operator
import pstats
import random
import sys
from collections.abc import Callable, Iterator
from typing import Any

try:  # ``python benchmarks/identity.py`` as well as ``python -m benchmarks.identity``
    from benchmarks import _common
except ImportError:  # pragma: no cover - run as a file: the repository root is not on the path
    import pathlib

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
    from benchmarks import _common

from benchmarks._common import Measure

#: The issue's targets: (variant, baseline, comparison, bound) per database engine.
TARGETS: dict[str, list[tuple[str, str, str, float]]] = {
    "sqlite": [
        ("get_map_hit", "get_plain", "<=", 1 / 100),
        ("iter_cold_map", "iter_cold_plain", "<=", 1.10),
        ("iter_warm_map", "iter_cold_plain", "<=", 0.60),
    ],
    "postgresql": [
        ("get_map_hit", "get_plain", "<=", 1 / 100),
        ("iter_cold_map", "iter_cold_plain", "<=", 1.10),
        ("iter_warm_map", "iter_cold_plain", "<=", 0.60),
    ],
    "mariadb": [
        ("iter_cold_map", "iter_cold_plain", "<=", 1.10),
        ("iter_warm_map", "iter_cold_plain", "<=", 0.60),
    ],
}

#: ``(timed body, check of its result or None)``
Variant = tuple[Callable[[], Any], Callable[[Any], bool] | None]

PLAIN_VARIANTS = ["get_plain", "get_raw_sql", "dict_lookup", "iter_cold_plain"]
MAP_VARIANTS = ["get_map_hit", "get_map_miss", "iter_cold_map", "iter_warm_map"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "mariadb"], default="sqlite")
    parser.add_argument("--db-name", help="database name (SQLite: file path); default: fresh")
    parser.add_argument("--rows", type=int, default=100_000, help="rows per table (100000)")
    parser.add_argument("--gets", type=int, default=2_000, help="get() calls per run (2000)")
    parser.add_argument(
        "--lookups", type=int, default=1_000_000, help="dict lookups per run (1000000)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs per variant (5)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", metavar="FILE", help="append JSON lines to FILE")
    parser.add_argument(
        "--only", help="comma-separated variants to run (default: all)", default=""
    )
    parser.add_argument("--profile", metavar="VARIANT", help="cProfile one run of VARIANT")
    parser.add_argument(
        "--without-rowsync",
        action="store_true",
        help="leave rowsync out of INSTALLED_APPS and run the plain variants only",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc pass")
    return parser.parse_args(argv)


def configure(args: argparse.Namespace) -> None:
    """Configure Django for the benchmark database and set it up."""
    _common.add_paths()
    import django
    from django.conf import settings

    apps = ["django.contrib.contenttypes", "benchmarks"]
    if not args.without_rowsync:
        apps.insert(1, "rowsync")
    settings.configure(
        DEBUG=False,
        SECRET_KEY="rowsync-benchmarks",
        USE_TZ=True,
        TIME_ZONE="UTC",
        DATABASES={"default": _common.database_settings(args.db, args.db_name)},
        INSTALLED_APPS=apps,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        ROWSYNC_IDENTITY_MAP=["benchmarks.MappedRow"],
    )
    django.setup()


def load(rows: int) -> list[int]:
    """(Re)create both tables, fill them with the same ``rows`` rows, return the pks."""
    from django.db import connection, transaction

    from benchmarks.models import MappedRow, PlainRow

    _common.ensure_database()
    models = [PlainRow, MappedRow]
    existing = set(connection.introspection.table_names())
    with connection.schema_editor() as editor:
        for model in models:
            if model._meta.db_table in existing:
                editor.delete_model(model)
            editor.create_model(model)
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    with transaction.atomic():
        PlainRow.objects.bulk_create(
            (
                PlainRow(
                    grp=i % 100,
                    name=f"row {i}",
                    amount=(i * 7919) % 10_000,
                    created=start + datetime.timedelta(seconds=i),
                )
                for i in range(rows)
            ),
            batch_size=1000,
        )
        qn = connection.ops.quote_name
        columns = ", ".join(qn(f.column) for f in PlainRow._meta.concrete_fields)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {qn(MappedRow._meta.db_table)} ({columns}) "
                f"SELECT {columns} FROM {qn(PlainRow._meta.db_table)}"
            )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for model in models:
                cursor.execute(f"VACUUM ANALYZE {qn(model._meta.db_table)}")
    pks = list(PlainRow.objects.order_by("pk").values_list("pk", flat=True))
    mapped = list(MappedRow.objects.order_by("pk").values_list("pk", flat=True))
    assert pks == mapped and len(pks) == rows, "the two tables differ"
    return pks


def identity_scope() -> contextlib.AbstractContextManager[Any]:
    """Return rowsync's ``identity_scope()`` (a fresh, empty map for the block)."""
    import importlib

    for module, name in [
        ("rowsync", "identity_scope"),
        ("rowsync.identity", "identity_scope"),
        ("rowsync.identity.scope", "identity_scope"),
    ]:
        try:
            scope = getattr(importlib.import_module(module), name, None)
        except ImportError:
            scope = None
        if scope is not None:
            return scope()  # type: ignore[no-any-return]
    raise SystemExit("rowsync has no identity_scope(): the map cannot be measured")


@contextlib.contextmanager
def count_queries() -> Iterator[list[str]]:
    """Collect the SQL sent on the default connection inside the block."""
    from django.db import connection

    sent: list[str] = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        sent.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield sent


class Bench:
    """The variants: each has a set-up (untimed), a body (timed) and a check."""

    def __init__(self, args: argparse.Namespace, pks: list[int]) -> None:
        from django.db import connection

        from benchmarks.models import MappedRow, PlainRow

        self.args = args
        self.rows = len(pks)
        rng = random.Random(args.seed)
        self.keys = [rng.choice(pks) for _ in range(args.gets)]
        self.lookup_keys = [rng.choice(pks) for _ in range(args.lookups)]
        self.plain, self.mapped = PlainRow, MappedRow
        qn = connection.ops.quote_name
        columns = ", ".join(qn(f.column) for f in PlainRow._meta.concrete_fields)
        self.raw_sql = f"SELECT {columns} FROM {qn(PlainRow._meta.db_table)} WHERE {qn('id')} = %s"

    # Each variant is a context manager: it sets up (untimed), yields ``(body, check)``
    # and tears down. ``body()`` is what is timed; ``check(result)`` (untimed) says
    # whether the map returned the instances it holds, or None when that means nothing.

    @contextlib.contextmanager
    def get_plain(self) -> Iterator[Variant]:
        get, keys = self.plain.objects.get, self.keys

        def body() -> None:
            for k in keys:
                get(pk=k)

        yield body, None

    @contextlib.contextmanager
    def get_map_hit(self) -> Iterator[Variant]:
        with identity_scope():
            held = list(self.mapped.objects.all())  # every row mapped and alive
            by_pk = {o.pk: o for o in held}
            get, keys = self.mapped.objects.get, self.keys

            def body() -> None:
                for k in keys:
                    get(pk=k)

            def check(_: object) -> bool:
                return all(get(pk=k) is by_pk[k] for k in keys[:50])

            yield body, check

    @contextlib.contextmanager
    def get_map_miss(self) -> Iterator[Variant]:
        with identity_scope():
            get, keys = self.mapped.objects.get, self.keys

            def body() -> None:
                for k in keys:
                    get(pk=k)  # dropped at once: the next get of k misses again

            yield body, None

    @contextlib.contextmanager
    def get_raw_sql(self) -> Iterator[Variant]:
        from django.db import connection

        sql, keys = self.raw_sql, self.keys
        with connection.cursor() as cursor:

            def body() -> None:
                execute, fetchone = cursor.execute, cursor.fetchone
                for k in keys:
                    execute(sql, [k])
                    fetchone()

            yield body, None

    @contextlib.contextmanager
    def dict_lookup(self) -> Iterator[Variant]:
        model = self.mapped
        held = list(self.plain.objects.all())
        table = {(model, o.pk): o for o in held}
        keys = self.lookup_keys

        def body() -> None:
            get = table.get
            for k in keys:
                get((model, k))

        yield body, None

    @contextlib.contextmanager
    def iter_cold_plain(self) -> Iterator[Variant]:
        qs = self.plain.objects.all()
        yield (lambda: list(qs.all())), None

    @contextlib.contextmanager
    def iter_cold_map(self) -> Iterator[Variant]:
        with identity_scope():
            qs = self.mapped.objects.all()
            yield (lambda: list(qs.all())), None

    @contextlib.contextmanager
    def iter_warm_map(self) -> Iterator[Variant]:
        with identity_scope():
            qs = self.mapped.objects.all()
            held = list(qs.all())

            def check(again: list[Any]) -> bool:
                return len(again) == len(held) and all(map(operator.is_, again, held))

            yield (lambda: list(qs.all())), check

    def describe(self, variant: str) -> tuple[str, str, int, str | None]:
        """Return (unit, label, operations per run, baseline) of ``variant``."""
        n, g, lk = self.rows, len(self.keys), len(self.lookup_keys)
        return {
            "get_plain": ("us/op", "Django objects.get(pk=)", g, None),
            "get_map_hit": ("us/op", "get(pk=) answered by the map", g, "get_plain"),
            "get_map_miss": ("us/op", "get(pk=), empty map", g, "get_plain"),
            "get_raw_sql": ("us/op", "cursor.execute + fetchone by pk", g, "get_plain"),
            "dict_lookup": ("ns/op", "dict.get((Model, pk))", lk, "get_plain"),
            "iter_cold_plain": ("ms", f"list(all()) of {n:,} rows, plain", 1, None),
            "iter_cold_map": ("ms", f"list(all()) of {n:,}, empty map", 1, "iter_cold_plain"),
            "iter_warm_map": ("ms", f"list(all()) of {n:,}, rows mapped", 1, "iter_cold_plain"),
        }[variant]


def scale(unit: str, seconds: float, ops: int) -> float:
    """Convert a run's seconds into ``unit`` per operation."""
    factor = {"us/op": 1e6, "ns/op": 1e9, "ms": 1e3}[unit]
    return seconds * factor / ops


def run(args: argparse.Namespace) -> list[Measure]:
    """Measure every selected variant and return the measures in display order."""
    from django.db import connection

    print(f"# loading {args.rows:,} rows into each table ({connection.vendor})", file=sys.stderr)
    pks = load(args.rows)
    bench = Bench(args, pks)
    variants = PLAIN_VARIANTS if args.without_rowsync else PLAIN_VARIANTS + MAP_VARIANTS
    if args.only:
        wanted = {v.strip() for v in args.only.split(",")}
        variants = [v for v in variants if v in wanted]
    order = [
        "get_plain",
        "get_map_hit",
        "get_map_miss",
        "get_raw_sql",
        "dict_lookup",
        "iter_cold_plain",
        "iter_cold_map",
        "iter_warm_map",
    ]
    variants = [v for v in order if v in variants]
    measures: dict[str, Measure] = {}
    for v in variants:
        unit, label, _, baseline = bench.describe(v)
        measures[v] = Measure(variant=v, label=label, unit=unit, baseline=baseline)

    # Checks and SQL counts, untimed.
    for v in variants:
        unit, _, ops, _ = bench.describe(v)
        with getattr(bench, v)() as (body, check):
            with count_queries() as sent:
                result = body()
            if check is not None:
                measures[v].extra["same_instances"] = check(result)
            del result
        per = ops if unit != "ms" else 1
        measures[v].queries = round(len(sent) / per, 4)
    if args.profile:
        profile(bench, args.profile)

    rng = random.Random(args.seed)
    for i in range(args.repeat):
        shuffled = variants[:]
        rng.shuffle(shuffled)
        for v in shuffled:
            unit, _, ops, _ = bench.describe(v)
            with getattr(bench, v)() as (body, _):
                seconds, cpu, result = _common.timed(body)
                del result
            measures[v].samples.append(scale(unit, seconds, ops))
            measures[v].cpu_samples.append(scale(unit, cpu, ops))
        print(f"# repeat {i + 1}/{args.repeat} done", file=sys.stderr)

    if not args.no_memory:
        for v in variants:
            with getattr(bench, v)() as (body, _):
                peak, held, result = _common.traced(body)
                del result
            measures[v].peak_bytes, measures[v].held_bytes = peak, held

    _common.compare(measures)
    for variant, baseline, _, bound in TARGETS.get(args.db, []):
        m = measures.get(variant)
        if m is None or m.ratio is None or m.baseline != baseline:
            continue
        m.target = f"<= {bound:.3g}x" if bound >= 0.1 else f"<= 1/{1 / bound:.0f}"
        m.met = m.ratio <= bound
    return list(measures.values())


def profile(bench: Bench, variant: str) -> None:
    """Print the top functions of one run of ``variant`` (by own time)."""
    with getattr(bench, variant)() as (body, _):
        gc.collect()
        prof = cProfile.Profile()
        prof.enable()
        body()
        prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(25)
    print(f"# profile of {variant} (by own time)\n{out.getvalue()}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the table and the JSON lines."""
    args = parse_args(argv)
    configure(args)
    from django.db import connection

    measures = run(args)
    note = _common.machine_note()
    version = _common.server_version()
    print(f"\n## identity map, {args.db}: {args.rows:,} rows, {args.repeat} repeats")
    print(f"{note}; {version}\n")
    print(_common.table(measures))
    common = {
        "bench": "identity",
        "db": args.db,
        "rows": args.rows,
        "repeat": args.repeat,
        "gets": args.gets,
        "machine": note,
        "server": version,
        "rowsync": not args.without_rowsync,
    }
    lines = _common.json_lines(measures, common)
    print()
    print("\n".join(lines))
    if args.json:
        with open(args.json, "a", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
    if args.db == "sqlite" and not args.db_name:
        import os

        os.unlink(connection.settings_dict["NAME"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
