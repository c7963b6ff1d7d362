"""The fault tests' receiver: one receipt per delivery, attempts logged, a pause on demand.

It receives ``post_delete`` for ``blog.Article`` (a captured model) and

* appends ``<pk> <pid>`` to the file ``ROWSYNC_FAULT_LOG`` before anything else: every
  attempt, committed or not, as a side effect outside the database would see it;
* at its ``ROWSYNC_FAULT_PAUSE_AT``-th call in this process, creates
  ``<ROWSYNC_FAULT_DIR>/paused-<pid>`` and waits until ``<ROWSYNC_FAULT_DIR>/resume``
  exists (a hung receiver, or a window in which the test kills something);
* inserts ``(pk, pid)`` into ``fault_receipt``, a table **without** a unique key, in the
  transaction it was called in: duplicated deliveries are counted, not refused.

Subprocesses import it with ``ROWSYNC_FAULT_CONNECT=1`` (``--import tests.faults.receivers``
for workers); the test process calls :func:`connect` / :func:`disconnect`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from django.db import connections
from django.db.models.signals import post_delete

RECEIPT_TABLE = "fault_receipt"
_calls = 0
_log_fd: int | None = None


def _log(line: str) -> None:
    global _log_fd
    path = os.environ.get("ROWSYNC_FAULT_LOG")
    if not path:
        return
    if _log_fd is None:
        _log_fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(_log_fd, line.encode() + b"\n")  # one write() per line: no interleaving


def _maybe_pause() -> None:
    global _calls
    _calls += 1
    at = int(os.environ.get("ROWSYNC_FAULT_PAUSE_AT", "0") or 0)
    if not at or _calls != at:
        return
    folder = Path(os.environ["ROWSYNC_FAULT_DIR"])
    (folder / f"paused-{os.getpid()}").touch()
    while not (folder / "resume").exists():
        time.sleep(0.05)


def record(sender, instance, using, **kwargs):
    key = str(instance.pk)
    _log(f"{key} {os.getpid()}")
    _maybe_pause()
    with connections[using].cursor() as cursor:
        cursor.execute(f"INSERT INTO {RECEIPT_TABLE} (k, pid) VALUES (%s, %s)", [key, os.getpid()])


def connect() -> None:
    from blog.models import Article

    post_delete.connect(record, sender=Article, dispatch_uid="rowsync-fault-receiver")


def disconnect() -> None:
    from blog.models import Article

    post_delete.disconnect(sender=Article, dispatch_uid="rowsync-fault-receiver")


if os.environ.get("ROWSYNC_FAULT_CONNECT") == "1":
    connect()
