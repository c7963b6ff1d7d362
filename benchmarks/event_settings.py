"""Settings of the latency and throughput benchmarks: the test settings, one delivery mode.

``ROWSYNC_BENCH_DELIVERY`` picks ``ROWSYNC_DELIVERY`` (``on_commit`` or ``worker``) for
every process of one run; ``ROWSYNC_TEST_DB`` and ``ROWSYNC_TEST_DB_SUFFIX`` pick the
database as for the test legs (``tests/dbconfig.py``).
"""

from __future__ import annotations

import os

from tests.settings import *  # noqa: F403

ROWSYNC_DELIVERY = os.environ.get("ROWSYNC_BENCH_DELIVERY", "worker")
ROWSYNC_WORKER_POLL_INTERVAL = float(os.environ.get("ROWSYNC_BENCH_POLL_INTERVAL", "1.0"))
