"""Settings of the fault tests' subprocesses (workers and deleting programs).

They use the test suite's settings with one database, ``default``, on the private server
the fault test started (``ROWSYNC_PG_PORT`` / ``ROWSYNC_MYSQL_PORT`` and
``ROWSYNC_FAULT_DB_NAME``), never the shared servers of the test legs.
"""

from __future__ import annotations

import os

from tests.dbconfig import db_config
from tests.settings import *  # noqa: F403
from tests.settings import DB

DATABASES = {"default": db_config(DB)}
DATABASES["default"]["NAME"] = os.environ["ROWSYNC_FAULT_DB_NAME"]
ROWSYNC_DELIVERY = os.environ.get("ROWSYNC_FAULT_DELIVERY", "transaction")
ROWSYNC_DELIVERY_LEASE = int(os.environ.get("ROWSYNC_FAULT_LEASE", "300"))
ROWSYNC_DELIVERY_BATCH_SIZE = int(os.environ.get("ROWSYNC_FAULT_DELIVERY_BATCH", "1000"))
