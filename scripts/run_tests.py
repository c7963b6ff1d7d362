#!/usr/bin/env python3
"""Run rowsync's whole test command: lint, type-check, then every test leg.

A leg is (Python x Django x database). The legs run in their own virtual environments
(made by scripts/bootstrap.sh) against real SQLite, PostgreSQL and MariaDB databases.
Prints a table of the legs that ran and a closing ``N passed, N failed`` line.
Under ``CI=true`` a leg that cannot run (no interpreter, no database) is a failure.

The Django-suite legs (``scripts/django_suite.py``: Django's own ORM tests with rowsync
switched on, against the lists of expected failures in ``tests/django_suite/expected/``) run
in the same pool, one process each; ``--no-django-suite`` leaves them out.

Every own-suite leg runs under branch coverage (``[tool.coverage.*]`` in pyproject.toml),
the workers and ``manage.py`` commands its tests start included; at the end the legs are
combined, the report printed, and a figure below ``fail_under`` fails the run.
``--no-coverage`` leaves it out.

Usage: scripts/run_tests.py [--db sqlite,postgresql,mariadb] [--legs py311-dj52,...]
                            [-j N] [--no-lint] [--no-django-suite] [--no-coverage]
                            [-- PYTEST_ARGS...]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import django_suite

ROOT = Path(__file__).resolve().parent.parent
# Separate concurrent runs on one machine: their own databases and result folders.
RUN_ID = os.environ.get("ROWSYNC_RUN_ID", "ci")
RESULTS = ROOT / ".test-results" / RUN_ID
COVERAGE = RESULTS / "coverage"
ENGINES = ("sqlite", "postgresql", "mariadb")
CI = os.environ.get("CI") == "true"


@dataclass
class Leg:
    venv: str
    db: str
    status: str = "not run"
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    versions: str = ""

    @property
    def name(self) -> str:
        return f"{self.venv}-{self.db}"


def venvs() -> list[str]:
    base = ROOT / ".venvs"
    return sorted(p.name for p in base.iterdir() if (p / "bin" / "python").exists())


def versions(venv: str) -> str:
    py = ROOT / ".venvs" / venv / "bin" / "python"
    out = subprocess.run(
        [
            str(py),
            "-c",
            "import platform, django; print(platform.python_version(), django.get_version())",
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    return f"Python {out[0]} / Django {out[1]}" if len(out) == 2 else "?"


def run_leg(leg: Leg, pytest_args: list[str], coverage: bool = False) -> Leg:
    RESULTS.mkdir(parents=True, exist_ok=True)
    xml = RESULTS / f"{leg.name}.xml"
    log = RESULTS / f"{leg.name}.log"
    xml.unlink(missing_ok=True)
    sqlite_dir = RESULTS / f"sqlite-{leg.name}"
    sqlite_dir.mkdir(exist_ok=True)
    env = dict(
        os.environ,
        ROWSYNC_TEST_DB=leg.db,
        ROWSYNC_TEST_DB_SUFFIX=f"{RUN_ID}_{leg.venv}".replace("-", "_"),
        ROWSYNC_TEST_SQLITE_DIR=str(sqlite_dir),
        ROWSYNC_TEST_MEDIA=str(RESULTS / f"media-{leg.name}"),
        # Screenshots of the admin browser tests (tests/console/test_browser.py).
        ROWSYNC_ARTEFACTS_DIR=str(RESULTS / "screenshots" / leg.name),
    )
    py = ROOT / ".venvs" / leg.venv / "bin" / "python"
    runner = ["-m", "pytest"]
    if coverage:
        # parallel = true: each process (pytest, its subprocesses) writes its own file.
        env["COVERAGE_FILE"] = str(COVERAGE / f".coverage.{leg.name}")
        env["COVERAGE_RCFILE"] = str(ROOT / "pyproject.toml")
        runner = ["-m", "coverage", "run", *runner]
    start = time.monotonic()
    with log.open("w") as fh:
        proc = subprocess.run(
            [str(py), *runner, "-q", f"--junitxml={xml}", *pytest_args],
            cwd=ROOT,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            check=False,
        )
    leg.seconds = time.monotonic() - start
    leg.versions = versions(leg.venv)
    if xml.exists():
        suite = ET.parse(xml).getroot()
        suites = [suite] if suite.tag == "testsuite" else list(suite)
        for s in suites:
            total = int(s.get("tests", 0))
            fails = int(s.get("failures", 0)) + int(s.get("errors", 0))
            skips = int(s.get("skipped", 0))
            leg.failed += fails
            leg.skipped += skips
            leg.passed += total - fails - skips
    if proc.returncode == 3 or (leg.passed == 0 and leg.failed == 0 and leg.skipped > 0):
        leg.status = "could not run"
    elif proc.returncode in (0, 5) and leg.failed == 0:
        leg.status = "ok"
    else:
        leg.status = "FAILED"
        leg.failed = max(leg.failed, 1)
    return leg


def lint(venv: str) -> bool:
    bin_ = ROOT / ".venvs" / venv / "bin"
    ok = True
    for cmd in (
        [str(bin_ / "ruff"), "check", "src", "tests", "example", "benchmarks", "scripts"],
        [
            str(bin_ / "ruff"),
            "format",
            "--check",
            "src",
            "tests",
            "example",
            "benchmarks",
            "scripts",
        ],
        [str(bin_ / "mypy")],
        # The layers (pyproject [tool.importlinter]) and the shape limits (code_shape.py).
        [str(bin_ / "lint-imports")],
        [str(bin_ / "python"), "scripts/code_shape.py"],
    ):
        print("$", " ".join(Path(c).name if i == 0 else c for i, c in enumerate(cmd)), flush=True)
        if not Path(cmd[0]).exists():
            print(f"{Path(cmd[0]).name} is missing from {bin_}: run scripts/bootstrap.sh")
            ok = False
            continue
        # src/ first: lint-imports reads the package it is asked about from sys.path.
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
        if subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode != 0:
            ok = False
    return ok


def coverage_report(venv: str, *, floor: bool) -> bool:
    """Combine the legs' coverage data and print the report.

    Returns whether the total holds ``fail_under``; a partial run (some engines or legs,
    some tests) measures less, so it prints the figure without holding it (``floor``).
    """
    py = str(ROOT / ".venvs" / venv / "bin" / "python")
    data = str(RESULTS / ".coverage")
    env = dict(os.environ, COVERAGE_RCFILE=str(ROOT / "pyproject.toml"))
    report = [py, "-m", "coverage", "report", f"--data-file={data}"]
    steps = (
        # Path mapping ([tool.coverage.paths]) folds every leg's src/rowsync into one.
        [py, "-m", "coverage", "combine", "--quiet", f"--data-file={data}", str(COVERAGE)],
        report if floor else [*report, "--fail-under=0"],
    )
    print("\nbranch coverage of src/ (all own-suite legs and their subprocesses)", flush=True)
    return all(
        subprocess.run(step, cwd=ROOT, env=env, check=False).returncode == 0 for step in steps
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", default=",".join(ENGINES))
    parser.add_argument("--legs", default="", help="comma-separated venv names (default: all)")
    parser.add_argument("-j", type=int, default=2, help="legs run at once")
    parser.add_argument("--no-lint", action="store_true")
    parser.add_argument(
        "--django-suite",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run Django's own test suite with rowsync (scripts/django_suite.py; default: on)",
    )
    parser.add_argument(
        "--coverage",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="measure branch coverage of the own suite (default: on)",
    )
    parser.add_argument("pytest_args", nargs="*")
    args = parser.parse_args()

    problems: list[str] = []
    available = venvs()
    if not any(v.endswith("dj61") for v in available):
        problems.append("no Python 3.12+ interpreter: the Django 6.1 legs cannot run")
    chosen = [v for v in available if not args.legs or v in args.legs.split(",")]
    legs = [Leg(v, db) for v in chosen for db in args.db.split(",")]

    lint_ok = True
    if not args.no_lint:
        lint_ok = lint("py311-dj52" if "py311-dj52" in available else available[0])

    suite_legs = [
        django_suite.Leg(ROOT / ".venvs" / v, db, config, results_dir=RESULTS)
        for v in chosen
        for db, configs in django_suite.CI_PLAN.items()
        if args.django_suite and db in args.db.split(",")
        for config in configs
    ]

    def one(leg: Leg | django_suite.Leg) -> None:
        if isinstance(leg, Leg):
            run_leg(leg, args.pytest_args, coverage=args.coverage)
            summary = f"{leg.passed} passed, {leg.failed} failed, {leg.skipped} skipped"
        else:
            django_suite.run_leg(leg)
            summary = f"{leg.passed} passed, {leg.unexpected} unexpected"
        print(
            f"leg {leg.name}: {leg.status} ({summary}, {leg.seconds:.0f}s; "
            f"log {RESULTS}/{leg.name}.log)",
            flush=True,
        )

    if args.coverage:
        shutil.rmtree(COVERAGE, ignore_errors=True)
        COVERAGE.mkdir(parents=True)
    # One process per job: the Django-suite legs run runtests.py with --parallel=1.
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.j)) as pool:
        list(pool.map(one, [*legs, *suite_legs]))

    print("\nrowsync test legs")
    header = (
        f"{'leg':<26} {'versions':<30} {'database':<11} {'status':<14} "
        f"{'passed':>6} {'failed':>6} {'skipped':>7} {'secs':>5}"
    )
    print(header)
    print("-" * len(header))
    for leg in legs:
        print(
            f"{leg.name:<26} {leg.versions:<30} {leg.db:<11} {leg.status:<14} {leg.passed:>6} "
            f"{leg.failed:>6} {leg.skipped:>7} {leg.seconds:>5.0f}"
        )
    print(
        "lint (ruff, ruff format, mypy --strict, import contracts, code shape): "
        f"{'ok' if lint_ok else 'FAILED'}"
    )
    if suite_legs:
        print("\nDjango's own test suite with rowsync (scripts/django_suite.py)")
        django_suite.print_table(suite_legs)
        django_suite.print_problems(suite_legs, limit=15)
    coverage_ok = True
    if args.coverage and legs:
        whole = not args.pytest_args and len(legs) == len(available) * len(ENGINES)
        coverage_ok = coverage_report(legs[0].venv, floor=whole)
        floor = "fail_under held" if whole else "partial run: fail_under not applied"
        print(f"coverage: {f'ok ({floor})' if coverage_ok else 'FAILED'}")
    for name, status in [(leg.name, leg.status) for leg in legs] + [
        (leg.name, leg.status) for leg in suite_legs
    ]:
        if status == "could not run":
            problems.append(f"leg {name} could not run (see {RESULTS}/{name}.log)")
    for p in problems:
        print(("ERROR: " if CI else "warning: ") + p)

    passed = sum(leg.passed for leg in legs) + sum(leg.passed for leg in suite_legs)
    failed = (
        sum(leg.failed for leg in legs)
        + sum(leg.unexpected for leg in suite_legs)
        + (0 if lint_ok else 1)
        + (0 if coverage_ok else 1)
    )
    skipped = sum(leg.skipped for leg in legs) + sum(leg.skipped for leg in suite_legs)
    print(f"\n{passed} passed, {failed} failed, {skipped} skipped")
    bad = (
        failed > 0
        or any(leg.status == "FAILED" for leg in legs)
        or any(django_suite.leg_failed(leg) for leg in suite_legs)
        or (CI and problems)
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
