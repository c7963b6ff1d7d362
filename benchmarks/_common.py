"""Helpers shared by the benchmark scripts: settings, timing, memory, output.

Everything here runs before or around Django; nothing touches a database at import.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def add_paths() -> None:
    """Make ``rowsync`` (src/), ``tests.dbconfig`` and ``benchmarks`` importable."""
    for path in (ROOT / "src", ROOT):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


def database_settings(engine: str, name: str | None) -> dict[str, Any]:
    """Return a ``DATABASES["default"]`` entry for a benchmark database.

    Connection parameters come from ``tests/dbconfig.py`` (the same environment
    variables as the test legs); the database name is the benchmark's own.

    Args:
        engine: ``sqlite``, ``postgresql`` or ``mariadb``.
        name: The database name (SQLite: file path); a fresh default when None.
    """
    from tests.dbconfig import db_config

    config = db_config(engine)
    config.pop("TEST", None)
    if engine == "sqlite":
        config["NAME"] = name or os.path.join(
            tempfile.gettempdir(), f"rowsync_bench_{os.getpid()}.sqlite3"
        )
    else:
        config["NAME"] = name or "rowsync_bench"
    return config


def configure_capture_benchmark(engine: str, name: str | None, **extra: Any) -> None:
    """Configure Django for a capture benchmark (transaction delivery) plus ``extra`` settings."""
    add_paths()
    import django
    from django.conf import settings

    settings.configure(
        DATABASES={"default": database_settings(engine, name)},
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "rowsync",
            "benchmarks",
        ],
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        ROWSYNC_DELIVERY="transaction",
        ROWSYNC_DELIVERY_BATCH_SIZE=2000,
        **extra,
    )
    django.setup()


def ensure_database(alias: str = "default") -> None:
    """Create the server database of ``alias`` if it does not exist (not SQLite)."""
    from django.db import connections

    conn = connections[alias]
    if conn.vendor == "sqlite":
        return
    name = conn.settings_dict["NAME"]
    with conn._nodb_cursor() as cursor:
        if conn.vendor == "postgresql":
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            if cursor.fetchone() is None:
                cursor.execute(f"CREATE DATABASE {conn.ops.quote_name(name)}")
        else:
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS {conn.ops.quote_name(name)}")


def machine_note() -> str:
    """Describe the interpreter, Django, CPU count and load for the report."""
    import django

    try:
        load = "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:  # pragma: no cover - not on every platform
        load = "load ?"
    cpu = platform.processor() or platform.machine()
    return (
        f"Python {platform.python_version()}, Django {django.get_version()}, "
        f"{os.cpu_count()} CPU ({cpu}), {load}"
    )


def server_version(alias: str = "default") -> str:
    """Name the database server (or SQLite library) and its version."""
    from django.db import connections

    conn = connections[alias]
    conn.ensure_connection()
    if conn.vendor == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    if conn.vendor == "postgresql":
        major, minor = divmod(conn.pg_version, 10_000)
        return f"PostgreSQL {major}.{minor}"
    if conn.vendor == "mysql":
        return f"{conn.display_name} {conn.mysql_server_info}"
    return conn.display_name


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Run ``fn`` after a full collection; return (wall seconds, CPU seconds, result).

    The CPU time (this process only) is steadier than the wall time on a shared
    machine, but it leaves out the time spent waiting for a database server.
    """
    gc.collect()
    cpu = time.process_time()
    start = time.perf_counter()
    result = fn()
    wall = time.perf_counter() - start
    return wall, time.process_time() - cpu, result


def traced(fn: Callable[[], Any]) -> tuple[int, int, Any]:
    """Run ``fn`` under tracemalloc; return (peak bytes, bytes still held, result).

    Both figures are relative to the traced memory just before ``fn`` ran, so
    they show what the operation itself allocated (peak) and kept (held).
    """
    gc.collect()
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        result = fn()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - base, current - base, result


#: Seconds per unit, to compare measures given in different units.
UNIT_SECONDS = {"ms": 1e-3, "us/op": 1e-6, "ns/op": 1e-9}


@dataclass
class Measure:
    """One measured variant: its samples and how it compares with its baseline.

    Attributes:
        variant: Short name, e.g. ``get_map_hit``.
        label: What was run, for the table.
        unit: ``us/op``, ``ns/op`` or ``ms``.
        samples: One figure per repeat, in ``unit``.
        baseline: The variant it is compared with (None for baselines).
        ratio: ``median / median(baseline)`` (filled in by :func:`compare`).
        peak_bytes: tracemalloc peak of one run of the operation.
        held_bytes: Bytes still held when the operation returned.
        queries: SQL statements per operation (or per run for iterations).
        target: The issue's target, e.g. ``<= 1.10x``.
        met: Whether the target is met (None when there is no target).
        extra: Anything else worth recording (checks, counts).
    """

    variant: str
    label: str
    unit: str
    samples: list[float] = field(default_factory=list)
    cpu_samples: list[float] = field(default_factory=list)
    baseline: str | None = None
    ratio: float | None = None
    cpu_ratio: float | None = None
    peak_bytes: int | None = None
    held_bytes: int | None = None
    queries: float | None = None
    target: str | None = None
    met: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.samples) if self.samples else float("nan")

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu_samples) if self.cpu_samples else float("nan")

    @property
    def spread(self) -> float:
        """Coefficient of variation of the samples, in percent."""
        if len(self.samples) < 2:
            return 0.0
        return 100 * statistics.stdev(self.samples) / statistics.mean(self.samples)


def compare(measures: dict[str, Measure]) -> None:
    """Fill in every measure's ``ratio`` to its baseline."""
    for m in measures.values():
        if m.baseline is not None and m.baseline in measures:
            base = measures[m.baseline]
            base_s = base.median * UNIT_SECONDS[base.unit]
            m.ratio = m.median * UNIT_SECONDS[m.unit] / base_s if base_s else None
            base_cpu = base.cpu_median * UNIT_SECONDS[base.unit]
            if base_cpu == base_cpu and base_cpu > 0:  # not NaN
                m.cpu_ratio = m.cpu_median * UNIT_SECONDS[m.unit] / base_cpu


def _fmt(value: float) -> str:
    if value != value:  # NaN
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _mb(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:.1f}"


def table(measures: Iterable[Measure]) -> str:
    """Render the measures as a Markdown table."""
    lines = [
        "| variant | what | median | unit | CV% | ratio | vs | CPU median | CPU ratio | SQL "
        "| same obj | peak MB | held MB | target |",
        "|---|---|---:|---|---:|---:|---|---:|---:|---:|---|---:|---:|---|",
    ]
    for m in measures:
        ratio = "-" if m.ratio is None else f"{m.ratio:.3g}x"
        if m.ratio is not None and m.ratio < 0.1:
            ratio += f" (1/{1 / m.ratio:,.0f})"
        cpu_ratio = "-" if m.cpu_ratio is None else f"{m.cpu_ratio:.3g}x"
        target = "-" if m.target is None else f"{m.target} {'met' if m.met else 'MISSED'}"
        queries = "-" if m.queries is None else f"{m.queries:g}"
        same = {True: "yes", False: "NO", None: "-"}[m.extra.get("same_instances")]
        lines.append(
            f"| {m.variant} | {m.label} | {_fmt(m.median)} | {m.unit} | {m.spread:.0f} "
            f"| {ratio} | {m.baseline or '-'} | {_fmt(m.cpu_median)} | {cpu_ratio} "
            f"| {queries} | {same} | {_mb(m.peak_bytes)} "
            f"| {_mb(m.held_bytes)} | {target} |"
        )
    return "\n".join(lines)


def json_lines(measures: Sequence[Measure], common: dict[str, Any]) -> list[str]:
    """Return one JSON document per measure, each carrying the ``common`` fields."""
    out = []
    for m in measures:
        doc = dict(common)
        doc.update(asdict(m))
        doc["median"] = m.median
        doc["cv_percent"] = round(m.spread, 2)
        doc["cpu_median"] = m.cpu_median
        out.append(json.dumps(doc, sort_keys=True, default=str))
    return out
