#!/usr/bin/env python3
"""Check the shape of rowsync's code: module length, function length, complexity.

Limits (docs/contributing.md): no module of ``src/`` above 400 lines, no function above
60 lines (from its first decorator to its last line), no function with a cyclomatic
complexity above 15 (ruff's C901, ``max-complexity`` in pyproject.toml).

Known violations are listed in ``scripts/code_shape_allowlist.txt``, one a line:
``module src/x.py``, ``function src/x.py::Qual.name`` or ``complexity src/x.py::name``.
The list may only shrink: an entry that no longer violates its limit fails the check as
well, so that whoever fixes a violation also removes its entry (like the Django-suite
lists of expected failures).

Usage: scripts/code_shape.py [--root DIR]   (exit status 1 on any finding)
"""

from __future__ import annotations

import argparse
import ast
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
MAX_COMPLEXITY = 15
ALLOWLIST = Path("scripts") / "code_shape_allowlist.txt"
SOURCES = Path("src")


def module_violations(root: Path) -> Iterator[str]:
    """Yield ``module PATH`` for each module of ``src/`` above the line limit."""
    for path in sorted((root / SOURCES).rglob("*.py")):
        if len(path.read_text().splitlines()) > MAX_MODULE_LINES:
            yield f"module {path.relative_to(root).as_posix()}"


def _functions(
    tree: ast.AST, prefix: str = ""
) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Yield ``(qualified name, node)`` for every function, nested ones included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            name = f"{prefix}{node.name}"
            yield name, node
            yield from _functions(node, f"{name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")
        else:
            yield from _functions(node, prefix)


def function_length(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Return the lines of a function, from its first decorator to its last line."""
    start = min([d.lineno for d in node.decorator_list] + [node.lineno])
    end = node.end_lineno if node.end_lineno is not None else node.lineno
    return end - start + 1


def function_violations(root: Path) -> Iterator[str]:
    """Yield ``function PATH::NAME`` for each function above the line limit."""
    for path in sorted((root / SOURCES).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for name, node in _functions(tree):
            if function_length(node) > MAX_FUNCTION_LINES:
                yield f"function {path.relative_to(root).as_posix()}::{name}"


def _ruff() -> str:
    """Return the ruff of this interpreter's environment (else the one on PATH)."""
    beside = Path(sys.executable).parent / "ruff"
    return str(beside) if beside.exists() else (shutil.which("ruff") or "ruff")


def complexity_violations(root: Path) -> Iterator[str]:
    """Yield ``complexity PATH::NAME`` for each function ruff's C901 finds too complex.

    ruff runs isolated (its per-file ignores left out) so that the allowlist, not the
    configuration, decides which violations are known.
    """
    done = subprocess.run(
        [
            _ruff(),
            "check",
            "--isolated",
            "--select",
            "C901",
            "--config",
            f"lint.mccabe.max-complexity={MAX_COMPLEXITY}",
            "--output-format",
            "json",
            "--exit-zero",
            str(SOURCES),
        ],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    for finding in json.loads(done.stdout):
        # The message reads "`name` is too complex (N > 15)"; ruff names the bare function.
        name = finding["message"].split("`")[1]
        path = Path(finding["filename"]).resolve().relative_to(root.resolve()).as_posix()
        yield f"complexity {path}::{name}"


def read_allowlist(path: Path) -> set[str]:
    """Return the entries of the allowlist (comments and blank lines left out)."""
    if not path.exists():
        return set()
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return {line for line in lines if line}


def findings(root: Path) -> list[str]:
    """Return every problem: new violations and allowlisted entries that are fixed."""
    found = {
        *module_violations(root),
        *function_violations(root),
        *complexity_violations(root),
    }
    allowed = read_allowlist(root / ALLOWLIST)
    problems = [f"{entry}: above the limit" for entry in sorted(found - allowed)]
    problems += [
        f"{entry}: within the limits now, remove it from {ALLOWLIST.as_posix()}"
        for entry in sorted(allowed - found)
    ]
    return problems


def main(argv: list[str] | None = None) -> int:
    """Print the findings; return 1 when there are any."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args(argv)
    problems = findings(args.root)
    for problem in problems:
        print(problem)
    limits = (
        f"modules <= {MAX_MODULE_LINES} lines, functions <= {MAX_FUNCTION_LINES} lines, "
        f"complexity <= {MAX_COMPLEXITY}"
    )
    print(f"code shape ({limits}): {'FAILED' if problems else 'ok'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
