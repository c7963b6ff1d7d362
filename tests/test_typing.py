"""Users' type checkers see rowsync's real classes, not ``Any``.

Runs mypy (with django-stubs, as a user's project would) over a small module that uses
``from rowsync import IdentityModel`` and reads the revealed types.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

USER_MODULE = """
from rowsync import IdentityManager, IdentityModel, IdentityModelBase
from tests.testapp.models import Category

reveal_type(IdentityModel)
reveal_type(IdentityManager)
reveal_type(IdentityModelBase)
reveal_type(Category.objects)
reveal_type(Category.objects.get(pk=1))
reveal_type(Category.objects.populate_existing().first())
"""


def test_public_identity_classes_are_typed(tmp_path: Path) -> None:
    mypy = Path(sys.executable).with_name("mypy")
    if not mypy.exists():
        mypy = Path(shutil.which("mypy") or "mypy")
    module = tmp_path / "user_project_types.py"
    module.write_text(USER_MODULE)
    proc = subprocess.run(
        [str(mypy), "--config-file", str(ROOT / "pyproject.toml"), "--no-incremental"]
        + [str(module)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    revealed = re.findall(r'Revealed type is "(.*)"', proc.stdout)
    assert len(revealed) == 6, proc.stdout + proc.stderr
    assert all(t != "Any" for t in revealed), revealed
    assert revealed[0].endswith("-> rowsync.identity.models.IdentityModel"), revealed[0]
    assert "IdentityManager[tests.testapp.models.Category]" in revealed[3], revealed[3]
    assert revealed[4] == "tests.testapp.models.Category", revealed[4]
    assert revealed[5] == "tests.testapp.models.Category | None", revealed[5]
