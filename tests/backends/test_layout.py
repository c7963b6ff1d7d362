"""The shape of rowsync.backends: every vendor fact there, read through flags that are used.

Static checks over the source (no database): they fail when a subsystem reads
``connection.vendor``, when a backend imports a subsystem, when a flag is declared and
never read, or when a module of the backends or the worker grows past the house limits.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import rowsync
from rowsync.backends import BaseBackend

SRC = Path(rowsync.__file__).resolve().parent
BACKENDS = SRC / "backends"
SUBSYSTEMS = ("rowsync.ondelete", "rowsync.events", "rowsync.identity", "rowsync.schema")
#: Modules held to the limits: no module over 400 lines, no function over 60 lines.
LIMITED = [
    *sorted(BACKENDS.rglob("*.py")),
    SRC / "events" / "worker.py",
    SRC / "events" / "capture.py",
    SRC / "events" / "claim.py",
]


def _modules(root: Path) -> list[Path]:
    return sorted(root.rglob("*.py"))


def _imported(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("path", _modules(BACKENDS), ids=lambda p: str(p.relative_to(SRC)))
def test_a_backend_imports_no_subsystem(path: Path) -> None:
    bad = sorted(name for name in _imported(path) for sub in SUBSYSTEMS if name.startswith(sub))
    assert not bad, f"{path.relative_to(SRC)} imports {bad}"


def test_connection_vendor_is_read_only_in_backends_init() -> None:
    pattern = re.compile(r"(?<!`)connections?(\[[^\]]*\])?\.vendor\b")
    readers = [
        f"{path.relative_to(SRC)}:{number}"
        for path in _modules(SRC)
        if path != BACKENDS / "__init__.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not readers


def _flags() -> list[str]:
    """Return the boolean (and numeric) facts every backend declares."""
    names = set()
    for klass in BaseBackend.__mro__:
        for name, value in vars(klass).items():
            if not name.startswith("_") and isinstance(value, bool | int | type(None)):
                names.add(name)
    return sorted(names)


@pytest.mark.parametrize("flag", _flags())
def test_every_flag_has_a_reader(flag: str) -> None:
    # A reader is any use of the name other than its declarations (``flag: ClassVar``).
    use = re.compile(rf"\b{flag}\b(?!\s*:\s*ClassVar)")
    readers = [
        path
        for path in _modules(SRC)
        for line in path.read_text().splitlines()
        if use.search(line) and not line.lstrip().startswith(("#", '"""'))
    ]
    assert readers, f"{flag} is declared and never read"


@pytest.mark.parametrize("path", LIMITED, ids=lambda p: str(p.relative_to(SRC)))
def test_module_and_function_sizes(path: Path) -> None:
    text = path.read_text()
    assert text.count("\n") <= 400
    long = [
        node.name
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (node.end_lineno or node.lineno) - node.lineno + 1 > 60
    ]
    assert not long


def test_complexity_at_most_15() -> None:
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        pytest.skip("ruff is not installed next to this interpreter")
    result = subprocess.run(
        [str(ruff), "check", "--no-cache", "--isolated", "--select", "C901"]
        + ["--config", "lint.mccabe.max-complexity=15", *map(str, LIMITED)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout
