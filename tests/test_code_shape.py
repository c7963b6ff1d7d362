"""scripts/code_shape.py: the limits, and an allowlist that may only shrink."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def shape() -> ModuleType:
    spec = importlib.util.spec_from_file_location("code_shape", ROOT / "scripts" / "code_shape.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["code_shape"] = module
    spec.loader.exec_module(module)
    return module


def _function(name: str, lines: int) -> str:
    body = "".join(f"    x{i} = {i}\n" for i in range(lines - 2))
    return f"def {name}():\n{body}    return 0\n"


def _complex(name: str, branches: int) -> str:
    body = "".join(f"    if a == {i}:\n        return {i}\n" for i in range(branches))
    return f"def {name}(a):\n{body}    return -1\n"


def _project(tmp_path: Path, files: dict[str, str], allow: str = "") -> Path:
    for name, text in files.items():
        path = tmp_path / "src" / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (tmp_path / "scripts").mkdir(exist_ok=True)
    (tmp_path / "scripts" / "code_shape_allowlist.txt").write_text(allow)
    return tmp_path


def test_within_the_limits_nothing_is_found(shape, tmp_path):
    root = _project(
        tmp_path,
        {"ok.py": _function("short", shape.MAX_FUNCTION_LINES) + _complex("simple", 10)},
    )
    assert shape.findings(root) == []
    assert shape.main(["--root", str(root)]) == 0


def test_each_limit_is_enforced(shape, tmp_path):
    long_module = "\n".join(f"x{i} = {i}" for i in range(shape.MAX_MODULE_LINES + 1)) + "\n"
    nested = "class Box:\n" + "".join(
        "    " + line + "\n"
        for line in _function("method", shape.MAX_FUNCTION_LINES + 1).splitlines()
    )
    root = _project(
        tmp_path,
        {
            "big.py": long_module,
            "long.py": _function("long", shape.MAX_FUNCTION_LINES + 1) + nested,
            "knotty.py": _complex("knotty", shape.MAX_COMPLEXITY + 1),
        },
    )
    assert shape.findings(root) == [
        "complexity src/pkg/knotty.py::knotty: above the limit",
        "function src/pkg/long.py::Box.method: above the limit",
        "function src/pkg/long.py::long: above the limit",
        "module src/pkg/big.py: above the limit",
    ]
    assert shape.main(["--root", str(root)]) == 1


def test_the_allowlist_may_only_shrink(shape, tmp_path):
    root = _project(
        tmp_path,
        {"long.py": _function("long", shape.MAX_FUNCTION_LINES + 1)},
        allow="# known\nfunction src/pkg/long.py::long  # owned elsewhere\n"
        "function src/pkg/long.py::fixed\n",
    )
    assert shape.findings(root) == [
        "function src/pkg/long.py::fixed: within the limits now, remove it from "
        "scripts/code_shape_allowlist.txt"
    ]


def test_the_project_keeps_its_shape(shape):
    assert shape.findings(ROOT) == []
