"""Delete one parent with its children: database-enforced on_delete against the limit.

Scenarios: one parent with N children (``flat-N``), and a three-level tree (``tree-N``:
N children with 5 grandchildren each). A second parent with 100 children (and their
grandchildren) must survive every delete; each run checks it.

Variants (:data:`VARIANTS`; each one has its own tables, loaded afresh before each run,
and the runs of all variants are interleaved in a shuffled order):

* ``django_cascade``: Django's Python ``CASCADE``, ``parent.delete()``, no receivers.
* ``django_cascade_signal``: the same with a no-op ``post_delete`` receiver on the
  children (and grandchildren): Django loads every row.
* ``django61_db_cascade``: Django 6.1's ``models.DB_CASCADE`` (only on Django 6.1+).
* ``rowsync_db_cascade``: ``rowsync.DB_CASCADE``, ``parent.delete()``: the database
  cascades (rowsync's compiled constraint or trigger); counts include the children.
* ``rowsync_db_cascade_nocount``: the same with ``ROWSYNC_DB_ON_DELETE_COUNTS=False``.
* ``raw``: ``DELETE FROM parent WHERE id = %s`` on Django's DDL plus ``ON DELETE
  CASCADE`` (what Django 6.1 emits for DB_CASCADE): the limit every ratio refers to.

With ``--capture`` the event-capture variants of ``benchmarks/delete_capture.py`` (when
that module exists) run afterwards in their own process, with the same engine and N.

Usage::

    .venvs/py311-dj52/bin/python -m benchmarks.delete --db sqlite
    .venvs/py313-dj61/bin/python -m benchmarks.delete --db postgresql --sizes 1000,10000,100000 \\
        --tree 10000 --repeat 5 --json /tmp/delete.jsonl
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks._common import add_paths, database_settings, ensure_database, machine_note

SIBLING_CHILDREN = 100
GRANDCHILDREN = 5
RECEIVED = [0]


def configure(engine: str, name: str | None) -> None:
    """Configure Django for the benchmark database."""
    add_paths()
    import django
    from django.conf import settings

    settings.configure(
        DATABASES={"default": database_settings(engine, name)},
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "rowsync",
            # This module is the app of its own models (label "delete"): the
            # "benchmarks" app holds capture models, which would switch capture on.
            "benchmarks.delete",
        ],
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    )
    django.setup()


def _receiver(sender: Any, instance: Any, **kwargs: Any) -> None:
    RECEIVED[0] += 1


@dataclass
class Family:
    """The three models (tables) of one variant."""

    name: str
    parent: Any
    child: Any
    grand: Any


def _models(prefix: str, on_delete: Any) -> Family:
    from django.db import models

    # An installed app: reverse relations are computed over installed apps only.
    meta = {"app_label": "delete", "db_table": ""}

    def make(name: str, fields: dict[str, Any]) -> Any:
        attrs = {
            "__module__": "benchmarks.delete",
            "Meta": type("Meta", (), {**meta, "db_table": f"bd_{prefix}_{name}"}),
            **fields,
        }
        return type(f"{prefix.title().replace('_', '')}{name.title()}", (models.Model,), attrs)

    parent = make("parent", {"name": models.CharField(max_length=32)})
    child = make(
        "child",
        {
            "parent": models.ForeignKey(parent, on_delete),
            "name": models.CharField(max_length=32),
            "amount": models.IntegerField(),
        },
    )
    grand = make(
        "grand",
        {
            "child": models.ForeignKey(child, on_delete),
            "name": models.CharField(max_length=32),
            "amount": models.IntegerField(),
        },
    )
    return Family(prefix, parent, child, grand)


def _create(family: Family, cascade_ddl: bool) -> None:
    """Create the tables with Django's DDL (plus ``ON DELETE CASCADE`` if asked)."""
    from django.db import connection

    with connection.schema_editor(collect_sql=True) as editor:
        for model in (family.parent, family.child, family.grand):
            editor.create_model(model)
    statements = list(editor.collected_sql)
    if cascade_ddl:
        statements = [_with_cascade(sql, connection.vendor) for sql in statements]
    with connection.cursor() as cursor:
        for model in (family.grand, family.child, family.parent):
            cursor.execute(
                f"DROP TABLE IF EXISTS {connection.ops.quote_name(model._meta.db_table)}"
            )
        for sql in statements:
            cursor.execute(sql)


def _with_cascade(sql: str, vendor: str) -> str:
    if "REFERENCES" not in sql or "ON DELETE" in sql:
        return sql
    if vendor == "mysql":
        return sql.rstrip(";") + " ON DELETE CASCADE;"
    return sql.replace(
        "DEFERRABLE INITIALLY DEFERRED", "ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED"
    )


def _series(n: int) -> str:
    from django.db import connection

    if connection.vendor == "postgresql":
        return f"generate_series(1, {n}) AS s(i)"
    if connection.vendor == "mysql":
        return f"(SELECT seq AS i FROM seq_1_to_{n}) AS s"
    return (
        f"(WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < {n}) "
        "SELECT i FROM r) AS s"
    )


def _load(family: Family, n: int, tree: bool) -> int:
    """Empty and load the family's tables; return the pk of the parent to delete."""
    from django.db import connection

    qn = connection.ops.quote_name
    p, c, g = (qn(m._meta.db_table) for m in (family.parent, family.child, family.grand))
    with connection.cursor() as cursor:
        for table in (g, c, p):
            cursor.execute(f"DELETE FROM {table}")
        cursor.execute(f"INSERT INTO {p} (id, name) VALUES (1, 'deleted'), (2, 'kept')")
        for parent_id, count in ((1, n), (2, SIBLING_CHILDREN)):
            cursor.execute(
                f"INSERT INTO {c} (parent_id, name, amount) "
                f"SELECT {parent_id}, 'child', i FROM {_series(count)}"
            )
        if tree:
            cursor.execute(
                f"INSERT INTO {g} (child_id, name, amount) "
                f"SELECT {c}.id, 'grand', s.i FROM {c} CROSS JOIN {_series(GRANDCHILDREN)}"
            )
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {p}; ANALYZE {c}; ANALYZE {g}")
    return 1


def _check(family: Family, tree: bool) -> bool:
    kept = family.child.objects.filter(parent_id=2).count() == SIBLING_CHILDREN
    gone = not family.child.objects.filter(parent_id=1).exists()
    grand_ok = not tree or family.grand.objects.count() == SIBLING_CHILDREN * GRANDCHILDREN
    return kept and gone and grand_ok and not family.parent.objects.filter(pk=1).exists()


@dataclass
class Variant:
    """One way of deleting the parent.

    Attributes:
        name: Short name (JSON key).
        label: What the table prints.
        setup: Creates the variant's tables; returns its models.
        delete: Deletes the parent (instance, or pk for raw SQL); returns the result.
        receivers: Connect a post_delete receiver to the children while it runs.
        settings: Settings overridden while it runs.
    """

    name: str
    label: str
    setup: Callable[[], Family]
    delete: Callable[[Family, int], Any]
    receivers: bool = False
    settings: dict[str, Any] | None = None


def _orm_delete(family: Family, target: Any) -> Any:
    return target.delete()


def _orm_target(family: Family, pk: int) -> Any:
    return family.parent.objects.get(pk=pk)


def _raw_delete(family: Family, pk: Any) -> Any:
    from django.db import connection

    table = connection.ops.quote_name(family.parent._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [pk])
        return cursor.rowcount


def _django_family(prefix: str) -> Callable[[], Family]:
    def setup() -> Family:
        from django.db import models

        family = _models(prefix, models.CASCADE)
        _create(family, cascade_ddl=False)
        return family

    return setup


def _setup_raw() -> Family:
    from django.db import models

    family = _models("raw", models.DO_NOTHING)
    _create(family, cascade_ddl=True)
    return family


def _setup_django61() -> Family:
    from django.db import models

    family = _models("dj61", models.DB_CASCADE)  # type: ignore[attr-defined]
    _create(family, cascade_ddl=False)
    return family


def _setup_rowsync(prefix: str) -> Callable[[], Family]:
    def setup() -> Family:
        from django.db import connection

        import rowsync
        from rowsync.schema import desired_objects, install_objects

        family = _models(prefix, rowsync.DB_CASCADE)
        _create(family, cascade_ddl=False)
        objects = desired_objects(family.child, (connection.vendor,))
        objects += desired_objects(family.grand, (connection.vendor,))
        install_objects(connection, objects, missing_only=False)
        return family

    return setup


def build_variants() -> list[Variant]:
    """Return the variants this Django version can run."""
    import django

    variants = [
        Variant("raw", "raw SQL DELETE, FK ON DELETE CASCADE [limit]", _setup_raw, _raw_delete),
        Variant(
            "django_cascade", "Django CASCADE, no receivers", _django_family("dj"), _orm_delete
        ),
        Variant(
            "django_cascade_signal",
            "Django CASCADE + post_delete receiver",
            _django_family("djsig"),
            _orm_delete,
            receivers=True,
        ),
        Variant(
            "rowsync_db_cascade",
            "rowsync DB_CASCADE (counts rows)",
            _setup_rowsync("rs"),
            _orm_delete,
        ),
        Variant(
            "rowsync_db_cascade_nocount",
            "rowsync DB_CASCADE, ROWSYNC_DB_ON_DELETE_COUNTS=False",
            _setup_rowsync("rsnc"),
            _orm_delete,
            settings={"ROWSYNC_DB_ON_DELETE_COUNTS": False},
        ),
    ]
    if django.VERSION >= (6, 1):
        variants.append(
            Variant("django61_db_cascade", "Django 6.1 DB_CASCADE", _setup_django61, _orm_delete)
        )
    return variants


def run_one(variant: Variant, family: Family, n: int, tree: bool) -> dict[str, Any]:
    """Load, delete (timed, commit included), check; return one JSON-able result."""
    from django.db import connection
    from django.db.models.signals import post_delete
    from django.test.utils import CaptureQueriesContext, override_settings

    pk = _load(family, n, tree)
    # The parent instance is loaded before the timer (the raw variant needs only its pk).
    target = pk if variant.delete is _raw_delete else _orm_target(family, pk)
    RECEIVED[0] = 0
    if variant.receivers:
        post_delete.connect(_receiver, sender=family.child)
        post_delete.connect(_receiver, sender=family.grand)
    try:
        # The query log is a bounded deque: empty it, or a full log counts nothing.
        connection.queries_log.clear()
        with (
            override_settings(**(variant.settings or {})),
            CaptureQueriesContext(connection) as queries,
        ):
            gc.collect()
            start = time.perf_counter()
            result = variant.delete(family, target)
            seconds = time.perf_counter() - start
    finally:
        post_delete.disconnect(_receiver, sender=family.child)
        post_delete.disconnect(_receiver, sender=family.grand)
    rows = n * (1 + GRANDCHILDREN) if tree else n
    return {
        "variant": variant.name,
        "scenario": f"{'tree' if tree else 'flat'}-{n}",
        "vendor": connection.vendor,
        "ms": seconds * 1000,
        "queries": len(queries.captured_queries),
        "deleted_rows": rows + 1,
        "returned": result[0] if isinstance(result, tuple) else result,
        "receivers_called": RECEIVED[0],
        "ok": _check(family, tree),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a Markdown table and JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgresql", "mariadb"])
    parser.add_argument("--db-name", default=None)
    parser.add_argument("--sizes", default="1000,10000,100000", help="flat scenarios: N children")
    parser.add_argument("--tree", default="10000", help="tree scenarios: N children (0: none)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", default="", help="comma-separated variant names")
    parser.add_argument("--json", default=None, help="append JSON lines to this file")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--capture", action="store_true", help="also run delete_capture.py")
    args = parser.parse_args(argv)

    configure(args.db, args.db_name)
    ensure_database()
    variants = [v for v in build_variants() if not args.only or v.name in args.only.split(",")]
    families = {v.name: v.setup() for v in variants}
    scenarios = [(int(n), False) for n in args.sizes.split(",") if n] + [
        (int(n), True) for n in args.tree.split(",") if n and int(n) > 0
    ]
    rng = random.Random(args.seed)
    results: list[dict[str, Any]] = []
    out = open(args.json, "a") if args.json else None  # noqa: SIM115
    print(f"# {machine_note()}, {args.db}", file=sys.stderr)
    for n, tree in scenarios:
        for _ in range(args.repeat):
            order = list(variants)
            rng.shuffle(order)
            for variant in order:
                res = run_one(variant, families[variant.name], n, tree)
                results.append(res)
                line = json.dumps(res)
                print(line, file=sys.stderr)
                if out:
                    out.write(line + "\n")
    if out:
        out.close()
    print(report(results, variants, scenarios))
    if args.capture:
        run_capture(args)
    return 0 if all(r["ok"] for r in results) else 1


def report(
    results: list[dict[str, Any]], variants: list[Variant], scenarios: list[tuple[int, bool]]
) -> str:
    """Return a Markdown table: median ms and the ratio to ``raw`` per scenario."""
    names = [f"{'tree' if t else 'flat'}-{n}" for n, t in scenarios]
    median: dict[tuple[str, str], float] = {}
    queries: dict[tuple[str, str], int] = {}
    for v in variants:
        for s in names:
            cell = [r for r in results if r["variant"] == v.name and r["scenario"] == s]
            if cell:
                median[v.name, s] = statistics.median(r["ms"] for r in cell)
                queries[v.name, s] = int(statistics.median(r["queries"] for r in cell))
    head = "| variant | " + " | ".join(names) + " | queries (" + names[-1] + ") |"
    lines = [head, "|---|" + "---:|" * (len(names) + 1)]
    for v in variants:
        cells = []
        for s in names:
            if (v.name, s) not in median:
                cells.append("-")
                continue
            ratio = median[v.name, s] / median["raw", s] if ("raw", s) in median else float("nan")
            cells.append(f"{median[v.name, s]:,.1f} ({ratio:.2f}x)")
        lines.append(
            f"| {v.label} | " + " | ".join(cells) + f" | {queries.get((v.name, names[-1]), '-')} |"
        )
    bad = [r for r in results if not r["ok"]]
    lines.append("")
    lines.append(
        f"median ms of each cell (ratio to raw SQL); {len(results)} runs, {len(bad)} failed checks"
    )
    return "\n".join(lines)


def run_capture(args: argparse.Namespace) -> None:
    """Run ``benchmarks/delete_capture.py`` (if present) in its own process."""
    if importlib.util.find_spec("benchmarks.delete_capture") is None:
        print("benchmarks/delete_capture.py not found: no capture variants", file=sys.stderr)
        return
    largest = max(int(n) for n in args.sizes.split(",") if n)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.delete_capture",
            "--db",
            args.db,
            "--children",
            str(largest),
        ],
        check=False,
    )


if __name__ == "__main__":
    sys.exit(main())
