"""Settings for worker subprocesses: the test suite's, pointed at the test database.

pytest-django renames the databases to their TEST names in the test process only; the
worker processes it starts get those names through ``ROWSYNC_WORKER_DB_<ALIAS>``.
"""

from __future__ import annotations

import os

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES

for _alias, _config in DATABASES.items():
    _name = os.environ.get(f"ROWSYNC_WORKER_DB_{_alias.upper()}")
    if _name:
        _config["NAME"] = _name
