"""An idempotent-by-construction receiver for the worker tests.

Importing this module connects a ``post_delete`` receiver for the captured
``blog.Article`` (the worker delivers events of captured models only) that

* inserts the article's pk into ``worker_receipt`` (primary key: a second delivery of the same
  event that commits would raise IntegrityError, so the table proves exactly-once
  database effects);
* appends ``<pk> <pid>`` to the file named by ``ROWSYNC_WORKER_TEST_LOG`` (a side effect
  outside the database: it shows every delivery attempt, rolled back or not);
* raises for the pks in ``ROWSYNC_WORKER_TEST_FAIL`` (comma separated);
* sleeps ``ROWSYNC_WORKER_TEST_SLEEP`` seconds per event (to widen kill windows).

Worker subprocesses load it with ``rowsync worker --import tests.events.worker_receivers``.
"""

from __future__ import annotations

import os
import time

from django.db import connections
from django.db.models.signals import post_delete

RECEIPT_TABLE = "worker_receipt"
FAIL: set[str] = {
    key for key in os.environ.get("ROWSYNC_WORKER_TEST_FAIL", "").split(",") if key.strip()
}
SLEEP = float(os.environ.get("ROWSYNC_WORKER_TEST_SLEEP", "0") or 0)
_log_fd: int | None = None


class ReceiverFailure(Exception):
    """Raised on purpose by the test receiver."""


def _log(line: str) -> None:
    global _log_fd
    path = os.environ.get("ROWSYNC_WORKER_TEST_LOG")
    if not path:
        return
    if _log_fd is None:
        _log_fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    # One write() per line on an O_APPEND file: lines of several processes don't interleave.
    os.write(_log_fd, line.encode() + b"\n")


def record(sender, instance, using, **kwargs):
    key = str(instance.pk)
    _log(f"{key} {os.getpid()}")
    if SLEEP:
        time.sleep(SLEEP)
    with connections[using].cursor() as cursor:
        # A field missing from the row image is deferred: reading it would query the
        # deleted row.
        title = None if "title" in instance.get_deferred_fields() else instance.title
        cursor.execute(f"INSERT INTO {RECEIPT_TABLE} (k, title) VALUES (%s, %s)", [key, title])
    if key in FAIL:
        raise ReceiverFailure(f"receiver refuses article {key}")


def connect() -> None:
    from blog.models import Article

    post_delete.connect(record, sender=Article, dispatch_uid="rowsync-worker-test")


def disconnect() -> None:
    from blog.models import Article

    post_delete.disconnect(sender=Article, dispatch_uid="rowsync-worker-test")


if os.environ.get("ROWSYNC_WORKER_TEST_CONNECT") == "1":
    connect()
