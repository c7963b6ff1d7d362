#!/usr/bin/env python3
"""Run Django's own test suite with rowsync switched on, against lists of expected failures.

For the Django version installed in a leg's virtual environment this script downloads Django's
source distribution from PyPI (cached under ``.cache/``), unpacks its ``tests/`` directory and
runs ``tests/runtests.py`` on a fixed set of ORM test modules, with rowsync in one or more
configurations:

=========  ===========================================================================
installed  ``"rowsync"`` in ``INSTALLED_APPS``, nothing selected
identity   ``ROWSYNC_IDENTITY_MAP = "__all__"``
ondelete   ``ROWSYNC_DB_ON_DELETE = "__all__"`` and ``ROWSYNC_CAPTURE = "__all__"``
all        the three settings together
=========  ===========================================================================

Each (Django, database, configuration) leg is compared with
``tests/django_suite/expected/<django major.minor>-<database>-<configuration>.txt``: one test
id per line with a reason after `` # ``, or ``CANNOT-START # reason`` when the configuration
is refused before any test runs (system checks). A leg fails on a new failure and on a listed
failure that no longer fails, so the lists only shrink. ``--update`` rewrites the lists from
the run, keeping the reasons of the lines that survive and marking new ones ``# TODO reason``.

Prints a table of the legs and a closing ``N passed, N failed`` line. Under ``CI=true`` a leg
that cannot run (no download possible, no database) is a failure.

Usage: scripts/django_suite.py [--venv py311-dj52] [--db sqlite,postgresql]
                               [--config installed,identity,ondelete,all] [--parallel N]
                               [-j N] [--update [--reuse]] [-k PATTERN] [MODULE ...]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HARNESS = ROOT / "tests" / "django_suite"
EXPECTED = HARNESS / "expected"
CACHE = ROOT / ".cache" / "django-suite"
# Separates concurrent runs on one machine (result folders), as in scripts/run_tests.py.
RUN_ID = re.sub(r"\W", "_", os.environ.get("ROWSYNC_RUN_ID", "local")).lower()
RESULTS = ROOT / ".test-results" / RUN_ID
CI = os.environ.get("CI") == "true"

MODULES = (
    "delete",
    "delete_regress",
    "select_related",
    "prefetch_related",
    "defer",
    "raw_query",
    "m2m_through",
    "proxy_models",
    "signals",
    "basic",
    "many_to_one",
    "one_to_one",
    "many_to_many",
    "model_inheritance",
    "transactions",
    "multiple_database",
    "queries",
    "update",
    "expressions",
    "bulk_create",
    "custom_managers",
    "generic_relations",
    "m2m_regress",
    "select_for_update",
    "fixtures",
    "serializers",
)
ENGINES = ("sqlite", "postgresql")
CONFIGS = ("installed", "identity", "ondelete", "all")
# The legs scripts/run_tests.py (make test, CI) runs for each Django version: {database: configs}.
CI_PLAN: dict[str, tuple[str, ...]] = {"sqlite": CONFIGS, "postgresql": CONFIGS}
# Tests whose outcome depends on the machine's load, not on rowsync: run, never judged.
UNJUDGED = HARNESS / "unjudged.txt"
CANNOT_START = "CANNOT-START"
TODO = "TODO reason"
FAILING = ("fail", "error", "upass")
# A run longer than this is stuck (a deadlocked select_for_update test, a lost database).
LEG_TIMEOUT = 45 * 60


@dataclass
class Leg:
    """One run of the suite: a virtual environment, a database engine, a configuration."""

    venv: Path
    db: str
    config: str
    django: str = ""
    python: str = ""
    status: str = "not run"
    ran: int = 0
    passed: int = 0
    failures: int = 0
    errors: int = 0
    skipped: int = 0
    expected: int = 0
    new: list[str] = field(default_factory=list)  # failing, not listed
    fixed: list[str] = field(default_factory=list)  # listed, no longer failing
    message: str = ""
    seconds: float = 0.0
    cpu: float = 0.0  # CPU seconds of runtests.py and its workers (exact when legs run one by one)
    results_dir: Path = RESULTS  # logs and outcome files

    @property
    def name(self) -> str:
        return f"django-{self.venv.name}-{self.db}-{self.config}"

    @property
    def series(self) -> str:
        return ".".join(self.django.split(".")[:2])

    @property
    def expected_file(self) -> Path:
        return EXPECTED / f"{self.series}-{self.db}-{self.config}.txt"

    @property
    def log(self) -> Path:
        return self.results_dir / f"{self.name}.log"

    @property
    def outcome_file(self) -> Path:
        return self.results_dir / f"{self.name}.json"

    @property
    def unexpected(self) -> int:
        """Test outcomes that differ from the expected list (0 for a leg in step with it)."""
        return len(self.new) + len(self.fixed)


# --- the Django source tree ---

_prepare_lock = threading.Lock()


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def venv_versions(venv: Path) -> tuple[str, str]:
    """Return ``(python version, Django version)`` of ``venv``."""
    out = subprocess.run(
        [
            str(venv_python(venv)),
            "-c",
            "import platform, django; print(platform.python_version(), django.__version__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return out[0], out[1]


def django_tests(venv: Path, version: str) -> Path:
    """Return Django ``version``'s ``tests/`` directory, downloading and unpacking it once.

    Raises:
        RuntimeError: The source distribution cannot be downloaded or is malformed.
    """
    target = CACHE / version / "tests"
    with _prepare_lock:
        if (target / "runtests.py").exists():
            return target
        CACHE.mkdir(parents=True, exist_ok=True)
        sdist = next(CACHE.glob(f"[Dd]jango-{version}.tar.gz"), None)
        if sdist is None:
            with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
                proc = subprocess.run(
                    [
                        str(venv_python(venv)),
                        *("-m", "pip", "download", "--no-deps", "--no-binary", ":all:"),
                        *(f"Django=={version}", "-d", tmp, "-q"),
                    ],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                found = list(Path(tmp).glob("*.tar.gz"))
                if proc.returncode != 0 or len(found) != 1:
                    raise RuntimeError(
                        f"cannot download Django {version}'s sdist: "
                        f"{(proc.stderr or proc.stdout).strip()[-600:]}"
                    )
                sdist = CACHE / found[0].name
                found[0].replace(sdist)
        unpack_tests(sdist, target)
    return target


def unpack_tests(sdist: Path, target: Path) -> None:
    """Extract the ``<top>/tests/`` members of ``sdist`` into ``target`` (atomically)."""
    staging = Path(tempfile.mkdtemp(dir=target.parent.parent, prefix="unpack-"))
    try:
        with tarfile.open(sdist) as tar:
            members = [
                member
                for member in tar.getmembers()
                if re.fullmatch(r"[^/]+/tests(/.*)?", member.name)
            ]
            if not members:
                raise RuntimeError(f"{sdist.name} has no tests/ directory")
            top = members[0].name.split("/")[0]
            tar.extractall(staging, members=members, filter="data")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(target, ignore_errors=True)
        (staging / top / "tests").replace(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


_POSTGRESQL = (
    "import os, sys\n"
    "try:\n"
    "    import psycopg as driver\n"
    "except ImportError:\n"
    "    import psycopg2 as driver\n"
    "try:\n"
    "    db = driver.connect(host=os.environ.get('ROWSYNC_PG_HOST', '127.0.0.1'),\n"
    "        port=int(os.environ.get('ROWSYNC_PG_PORT', '5432')),\n"
    "        user=os.environ.get('ROWSYNC_PG_USER', 'postgres'), dbname='postgres',\n"
    "        connect_timeout=5)\n"
    "    db.autocommit = True\n"
    "    cursor = db.cursor()\n"
    "    %s\n"
    "    db.close()\n"
    "except Exception as exc:\n"
    "    sys.exit(type(exc).__name__ + ': ' + ' '.join(str(exc).split()))\n"
)


def _postgresql(venv: Path, statement: str, *args: str) -> str | None:
    """Run one Python ``statement`` with a PostgreSQL ``cursor``; return the error or None."""
    proc = subprocess.run(
        [str(venv_python(venv)), "-c", _POSTGRESQL % statement, *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode == 0:
        return None
    lines = proc.stderr.strip().splitlines()
    return lines[-1] if lines else f"exit status {proc.returncode}"


def _importable(venv: Path, module: str) -> bool:
    code = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return subprocess.run([str(venv_python(venv)), "-c", code], check=False).returncode == 0


def database_problem(venv: Path, db: str) -> str | None:
    """Return why ``db``'s server cannot be reached, or None (SQLite: always None)."""
    return None if db == "sqlite" else _postgresql(venv, "cursor.execute('SELECT 1')")


def drop_leftovers(leg: Leg) -> None:
    """Drop the leg's test databases that Django left behind.

    When creating the test databases fails (a trigger refused while installing rowsync's
    objects), Django exits without destroying them, and their names are unique to the run.
    """
    if leg.db != "postgresql":
        return
    escaped = database_name(leg).replace("_", "\\_")
    pattern = f"test\\_{escaped}\\_%"  # LIKE: test_<name>_default, _other, _other_2...
    _postgresql(
        leg.venv,
        "cursor.execute('SELECT datname FROM pg_database WHERE datname LIKE %s', "
        "[sys.argv[1]])\n"
        "    for (name,) in cursor.fetchall():\n"
        "        cursor.execute('DROP DATABASE IF EXISTS \"%s\"' % name)",
        pattern,
    )


# --- expected lists ---


def read_expected(path: Path) -> dict[str, str]:
    """Return ``{test id: reason}`` from an expected list (``{}`` when it does not exist)."""
    listed: dict[str, str] = {}
    if not path.exists():
        return listed
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        test_id, _, reason = line.partition(" # ")
        listed[test_id.strip()] = reason.strip()
    return listed


def write_expected(leg: Leg, failing: dict[str, str]) -> None:
    """Write ``{test id: reason}`` as ``leg``'s expected list, sorted by test id."""
    header = (
        f"# Expected differences of Django {leg.series}'s test suite on {leg.db} with rowsync "
        f"configuration '{leg.config}'.\n"
        "# One test id per line, ' # ' and the reason. Regenerate with "
        "scripts/django_suite.py --update (docs/compatibility.md).\n"
    )
    body = "".join(f"{test_id} # {failing[test_id]}\n" for test_id in sorted(failing))
    leg.expected_file.parent.mkdir(parents=True, exist_ok=True)
    leg.expected_file.write_text(header + body)


def check_ids(text: str) -> list[str]:
    """Return the distinct system check ids (``rowsync.E033``) named in ``text``."""
    return sorted(set(re.findall(r"\(([\w.]+\.[CEIW]\d{3})\)", text)))


def updated_list(leg: Leg, results: dict[str, object]) -> dict[str, str]:
    """Return the new expected list of ``leg``: what fails now, old reasons kept."""
    old = read_expected(leg.expected_file)
    if results.get("state") != "ran":
        reason = str(results.get("reason", ""))
        ids = check_ids(reason)
        why = f"system checks {', '.join(ids)}" if ids else reason.splitlines()[0][:200]
        return {CANNOT_START: old.get(CANNOT_START) or f"{TODO}: {why}"}
    outcomes = _outcomes(results)
    details = _details(results)
    return {
        test_id: old.get(test_id) or f"{TODO}: {details.get(test_id, outcome)[:200]}"
        for test_id, outcome in outcomes.items()
        if outcome in FAILING
    }


def _outcomes(results: dict[str, object]) -> dict[str, str]:
    """Return ``{test id: outcome}`` of ``results``, without the tests in ``UNJUDGED``."""
    value = results.get("outcomes")
    if not isinstance(value, dict):
        return {}
    unjudged = read_expected(UNJUDGED)
    return {str(k): str(v) for k, v in value.items() if k not in unjudged}


def _details(results: dict[str, object]) -> dict[str, str]:
    value = results.get("details")
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def compare(leg: Leg, results: dict[str, object], *, complete: bool) -> None:
    """Set ``leg``'s counts and status from ``results`` and its expected list.

    Args:
        leg: The leg to fill in.
        results: What the runner recorded (see ``tests/django_suite/rowsync_suite_runner.py``).
        complete: Every listed module ran unfiltered, so a listed test that did not run at
            all is stale (and fails the leg) rather than merely not selected.
    """
    listed = read_expected(leg.expected_file)
    leg.ran = leg.passed = leg.failures = leg.errors = leg.skipped = leg.expected = 0
    leg.new, leg.fixed = [], []
    if results.get("state") == "crashed":
        leg.message = str(results.get("reason", "")).strip()
        leg.status = "CRASHED"
        leg.new = ["CRASHED"]
        return
    if results.get("state") != "ran":
        reason = str(results.get("reason", "")).strip()
        leg.message = reason
        if CANNOT_START in listed:
            leg.status = "cannot start (expected)"
            leg.expected = 1
        else:
            leg.status = "CANNOT START"
            leg.new = [CANNOT_START]
        return
    outcomes = _outcomes(results)
    leg.ran = sum(1 for o in outcomes.values() if o != "skip")
    leg.passed = sum(1 for o in outcomes.values() if o in ("pass", "xfail"))
    leg.failures = sum(1 for o in outcomes.values() if o in ("fail", "upass"))
    leg.errors = sum(1 for o in outcomes.values() if o == "error")
    leg.skipped = sum(1 for o in outcomes.values() if o == "skip")
    failing = {t for t, o in outcomes.items() if o in FAILING}
    leg.expected = len(failing & set(listed))
    leg.new = sorted(failing - set(listed))
    leg.fixed = sorted(
        t for t in listed if t not in failing and (t in outcomes or complete or t == CANNOT_START)
    )
    details = _details(results)
    leg.message = "\n".join(
        [f"new failure: {t}: {details.get(t, outcomes[t])}" for t in leg.new]
        + [f"listed but no longer failing: {t} ({outcomes.get(t, 'not run')})" for t in leg.fixed]
    )
    leg.status = "ok" if not leg.unexpected else "FAILED"


# --- running ---


def leg_env(leg: Leg, silence: Sequence[str], delivery: str) -> dict[str, str]:
    python_path = [str(ROOT / "src"), str(HARNESS)]
    if os.environ.get("PYTHONPATH"):
        python_path.append(os.environ["PYTHONPATH"])
    return dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(python_path),
        ROWSYNC_DJSUITE_CONFIG=leg.config,
        ROWSYNC_DJSUITE_DELIVERY=delivery,
        ROWSYNC_DJSUITE_SILENCE=",".join(silence),
        ROWSYNC_DJSUITE_RESULTS=str(leg.outcome_file),
        ROWSYNC_DJSUITE_DB_NAME=database_name(leg),
    )


def database_name(leg: Leg) -> str:
    """Return the leg's database name: unique to this run (process), Django series and config.

    Django adds ``test_``, ``_default``/``_other`` and ``_<n>`` for parallel clones; the
    whole name stays within PostgreSQL's 63 characters.
    """
    series = leg.series.replace(".", "")
    run_id = re.sub(r"\W", "_", leg.results_dir.name.lower())[:16]
    return f"rsdj_{run_id}_{os.getpid()}_{series}_{leg.config}"


def run_leg(
    leg: Leg,
    *,
    modules: Sequence[str] = MODULES,
    parallel: int = 1,
    patterns: Sequence[str] = (),
    silence: Sequence[str] = (),
    delivery: str = "transaction",
    reuse: bool = False,
) -> Leg:
    """Run (or with ``reuse``, re-read) one leg and compare it with its expected list."""
    start = time.monotonic()
    leg.results_dir.mkdir(parents=True, exist_ok=True)
    try:
        leg.python, leg.django = venv_versions(leg.venv)
        if not reuse:
            tests = django_tests(leg.venv, leg.django)
            problem = database_problem(leg.venv, leg.db)
            if problem:
                raise RuntimeError(f"{leg.db} is not reachable: {problem}")
            _run_runtests(leg, tests, modules, parallel, patterns, silence, delivery)
        results: dict[str, object] = json.loads(leg.outcome_file.read_text())
    except (OSError, RuntimeError, ValueError, subprocess.SubprocessError) as exc:
        leg.status = "could not run"
        leg.message = str(exc)
        leg.seconds = time.monotonic() - start
        return leg
    compare(leg, results, complete=set(modules) == set(MODULES) and not patterns)
    leg.seconds = time.monotonic() - start
    return leg


def _run_runtests(
    leg: Leg,
    tests: Path,
    modules: Sequence[str],
    parallel: int,
    patterns: Sequence[str],
    silence: Sequence[str],
    delivery: str,
) -> None:
    leg.outcome_file.unlink(missing_ok=True)
    if parallel != 1 and not _importable(leg.venv, "tblib"):
        # Django's parallel runner sends a failing test's traceback to the parent with tblib;
        # without it the first failure ends the run ("cannot pickle 'traceback' object").
        raise RuntimeError(f"--parallel {parallel} needs tblib in {leg.venv} (pip install tblib)")
    command = [
        str(venv_python(leg.venv)),
        "runtests.py",
        f"--settings=rowsync_suite_{leg.db}",
        f"--parallel={parallel}",
        "--noinput",
        *(f"-k={p}" for p in patterns),
        *modules,
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with leg.log.open("w") as log:
        log.write("$ " + " ".join(command) + "\n")
        log.flush()
        proc = subprocess.run(
            command,
            cwd=tests,
            env=leg_env(leg, silence, delivery),
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=LEG_TIMEOUT,
            check=False,
        )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    drop_leftovers(leg)
    leg.cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if not leg.outcome_file.exists():
        tail = leg.log.read_text().strip().splitlines()[-15:]
        raise RuntimeError(
            f"runtests.py exited with status {proc.returncode} before recording outcomes:\n"
            + "\n".join(tail)
        )


# --- reporting ---


def print_table(legs: Iterable[Leg]) -> None:
    header = (
        f"{'django':<7} {'python':<7} {'database':<10} {'config':<9} {'status':<23} "
        f"{'ran':>5} {'fail':>5} {'error':>5} {'skip':>5} {'listed':>6} {'new':>4} "
        f"{'fixed':>5} {'secs':>5} {'cpu':>5}"
    )
    print(header)
    print("-" * len(header))
    for leg in legs:
        print(
            f"{leg.django:<7} {leg.python:<7} {leg.db:<10} {leg.config:<9} {leg.status:<23} "
            f"{leg.ran:>5} {leg.failures:>5} {leg.errors:>5} {leg.skipped:>5} "
            f"{leg.expected:>6} {len(leg.new):>4} {len(leg.fixed):>5} {leg.seconds:>5.0f} "
            f"{leg.cpu:>5.0f}"
        )


def print_problems(legs: Iterable[Leg], *, limit: int = 40) -> None:
    for leg in legs:
        if leg.status in ("ok",) or not leg.message:
            continue
        lines = leg.message.splitlines()
        print(f"\n{leg.name}: {leg.status} (log {leg.log})")
        for line in lines[:limit]:
            print(f"  {line}")
        if len(lines) > limit:
            print(f"  ... {len(lines) - limit} more lines")


def leg_failed(leg: Leg) -> bool:
    """Whether ``leg`` fails the run: a difference, or (under CI) a leg that could not run."""
    return leg.status in ("FAILED", "CANNOT START", "CRASHED") or (
        CI and leg.status == "could not run"
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--venv",
        action="append",
        help="virtual environment: a name under .venvs/ or a path (repeatable; "
        "default: every .venvs/*)",
    )
    parser.add_argument("--db", default=",".join(ENGINES), help="sqlite,postgresql")
    parser.add_argument("--config", default=",".join(CONFIGS), help=",".join(CONFIGS))
    parser.add_argument(
        "--parallel", type=int, default=1, help="Django's --parallel for each leg (default 1)"
    )
    parser.add_argument("-j", type=int, default=1, help="legs run at once (default 1)")
    parser.add_argument("-k", dest="patterns", action="append", default=[], metavar="PATTERN")
    parser.add_argument(
        "--silence",
        default="",
        help="comma-separated system check ids silenced for these legs only",
    )
    parser.add_argument(
        "--delivery",
        default="transaction",
        choices=("transaction", "on_commit"),
        help="ROWSYNC_DELIVERY of the ondelete and all configurations",
    )
    parser.add_argument(
        "--update", action="store_true", help="rewrite the expected lists from this run"
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="do not run: re-read the outcomes of the last run with the same ROWSYNC_RUN_ID",
    )
    parser.add_argument("modules", nargs="*", help=f"test modules (default: the {len(MODULES)})")
    args = parser.parse_args(argv)
    for option, allowed in (("db", ENGINES), ("config", CONFIGS)):
        chosen = getattr(args, option).split(",")
        if unknown := [c for c in chosen if c not in allowed]:
            parser.error(f"--{option}: unknown {', '.join(unknown)} (choose from {allowed})")
    if unknown := [m for m in args.modules if m.split(".")[0] not in MODULES]:
        parser.error(f"not one of the leg's modules: {', '.join(unknown)}")
    if args.update and (args.modules or args.patterns):
        parser.error("--update needs the whole leg: no modules or -k")
    if args.update and args.delivery != "transaction":
        # The lists hold the differences of transaction delivery (docs/compatibility.md).
        parser.error("--update needs --delivery transaction: the lists are measured with it")
    return args


def find_venvs(names: Sequence[str] | None) -> list[Path]:
    base = ROOT / ".venvs"
    if not names:
        return sorted(p for p in base.glob("*") if venv_python(p).exists())
    return [Path(n) if "/" in n else base / n for n in names]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    venvs = find_venvs(args.venv)
    if not venvs:
        print("no virtual environment: run scripts/bootstrap.sh or pass --venv PATH")
        return 1
    legs = [
        Leg(venv, db, config)
        for venv in venvs
        for db in args.db.split(",")
        for config in args.config.split(",")
    ]
    silence = [s for s in args.silence.split(",") if s]

    def one(leg: Leg) -> Leg:
        run_leg(
            leg,
            modules=args.modules or MODULES,
            parallel=args.parallel,
            patterns=args.patterns,
            silence=silence,
            delivery=args.delivery,
            reuse=args.reuse,
        )
        print(f"{leg.name}: {leg.status} ({leg.seconds:.0f}s, log {leg.log})", flush=True)
        return leg

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.j)) as pool:
        list(pool.map(one, legs))

    if args.update:
        for leg in legs:
            if leg.status in ("could not run", "CRASHED"):
                print(f"not updated: {leg.expected_file} ({leg.name}: {leg.status})")
                continue
            results = json.loads(leg.outcome_file.read_text())
            write_expected(leg, updated_list(leg, results))
            compare(leg, results, complete=True)
            print(f"updated {leg.expected_file.relative_to(ROOT)}")

    print("\nDjango's test suite with rowsync")
    print_table(legs)
    print_problems(legs)
    passed = sum(leg.passed for leg in legs)
    failed = sum(leg.unexpected for leg in legs) + sum(
        1 for leg in legs if CI and leg.status == "could not run"
    )
    print(f"\n{passed} passed, {failed} failed")
    return 1 if any(leg_failed(leg) for leg in legs) else 0


if __name__ == "__main__":
    sys.exit(main())
