"""The Celery app of the Celery hand-off tests: the test process publishes, a worker consumes.

Configured from the environment (the test sets it before starting the worker, and in its
own process before the first import):

* ``ROWSYNC_CELERY_BROKER``: Redis URL of the broker (a database number of its own);
* ``ROWSYNC_CELERY_QUEUE``: the queue (unique per test run), also the ledger's key prefix;
* ``ROWSYNC_CELERY_FLAGS``: a directory; when ``block`` exists there, the first task writes
  ``blocked`` (its key) and waits for ``release``, ``before`` or ``after`` its work as
  ``block`` says: the test kills the worker meanwhile.

The task :func:`record` writes one row per run into :data:`TABLE` (no unique key: a
duplicate shows as a second row).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from celery import Celery

BROKER = os.environ.get("ROWSYNC_CELERY_BROKER", "redis://127.0.0.1:6379/11")
QUEUE = os.environ.get("ROWSYNC_CELERY_QUEUE", "rowsync-test")
TABLE = "rowsync_test_celery_runs"

app = Celery("rowsync_celery_test", broker=BROKER)
app.conf.update(
    task_default_queue=QUEUE,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    broker_transport_options={
        # A killed worker's message comes back after 2 s, looked for every second.
        "visibility_timeout": 2,
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
        # Keys of this run's own: other runs may share the Redis database.
        "unacked_key": f"{QUEUE}:unacked",
        "unacked_index_key": f"{QUEUE}:unacked_index",
        "unacked_mutex_key": f"{QUEUE}:unacked_mutex",
    },
    broker_connection_retry_on_startup=True,
    task_publish_retry=False,
    worker_hijack_root_logger=False,
    worker_enable_remote_control=False,  # no pidbox queue shared with other runs
)


def _ledger():
    from rowsync.events.celery import RedisLedger

    # lease (1 s) < visibility_timeout (2 s): a killed worker's reservation has run out
    # when its message comes back.
    return RedisLedger(BROKER, prefix=f"{QUEUE}:once:", ttl=600, lease=1)


def _wait(flags: Path, where: str, key: str) -> None:
    """Block the first task at ``where`` until the test releases it (or kills the worker)."""
    block = flags / "block"
    if not block.exists() or block.read_text() != where or (flags / "blocked").exists():
        return
    (flags / "blocked").write_text(key)
    while not (flags / "release").exists():
        time.sleep(0.02)


def _work(event):
    from django.db import connection, transaction

    flags = Path(os.environ.get("ROWSYNC_CELERY_FLAGS", "/nonexistent"))
    _wait(flags, "before", event["task_id"])
    context = (event.get("context") or {}).get("actor", "")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (task_id, model, pk, event_id, actor)"
            " VALUES (%s, %s, %s, %s, %s)",
            [event["task_id"], event["model"], str(event["pk"]), event["event_id"], context],
        )
    _wait(flags, "after", event["task_id"])
    return event["task_id"]


if os.environ.get("ROWSYNC_CELERY_WORKER"):
    import django

    django.setup()

    from rowsync.events.celery import once

    work = once(_ledger())(_work)
else:
    work = _work

record = app.task(name="rowsync_test.record")(work)
