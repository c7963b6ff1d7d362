"""Helpers for the worker tests: events in bulk, the receipt table, worker subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connections

from rowsync.models import DeletedRow
from tests.events import worker_receivers

ROOT = Path(__file__).resolve().parents[2]


def make_worker(**kwargs):
    """Return a quiet in-process worker on ``default`` (no LISTEN, no back-off)."""
    from rowsync.events.retry import RetryPolicy
    from rowsync.events.worker import Worker

    kwargs.setdefault("policy", RetryPolicy(max_attempts=3, base_delay=0, jitter=0))
    kwargs.setdefault("progress_interval", 0)
    kwargs.setdefault("listen", False)
    kwargs.setdefault("report", lambda line: None)
    return Worker("default", **kwargs)


def insert_events(count, *, start=1, using="default", label="blog.Article", row=None, **fields):
    """Write ``count`` pending events of the captured ``blog.Article`` (bulk INSERT).

    Their pks are ``start..start+count-1``.
    """
    events = [
        DeletedRow(
            model_label=label,
            table_name="blog_article",
            op="D",
            pk_text=str(pk),
            row=row if row is not None else {"nid": pk, "title": f"tag {pk}", "blog_id": 1},
            **fields,
        )
        for pk in range(start, start + count)
    ]
    DeletedRow.objects.using(using).bulk_create(events, batch_size=2000)


def capture_articles(count, *, using="default"):
    """Create ``count`` articles and delete them with raw SQL: the capture triggers record
    them (in the inbox where the engine has one). Returns their primary keys."""
    import datetime

    from django.db import transaction

    from blog.models import Article, Blog, UserInfo

    user = UserInfo.objects.using(using).create(username=f"capture{count}")
    blog = Blog.objects.using(using).create(
        title="t", site=f"capture{count}", theme="x", user=user
    )
    day = datetime.date(2026, 1, 1)
    Article.objects.using(using).bulk_create(
        (Article(title=f"a{i}", desc="", blog=blog, create_time=day) for i in range(count)),
        batch_size=2000,
    )
    pks = sorted(Article.objects.using(using).filter(blog=blog).values_list("pk", flat=True))
    table = connections[using].ops.quote_name(Article._meta.db_table)
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE blog_id = %s", [blog.pk])
    return pks


def receipt_keys(using="default"):
    with connections[using].cursor() as cursor:
        cursor.execute(f"SELECT k FROM {worker_receivers.RECEIPT_TABLE}")
        return sorted(int(k) for (k,) in cursor.fetchall())


@pytest.fixture
def receipts(transactional_db):
    """Create the receipt table (committed, visible to worker processes); drop it after."""
    connection = connections["default"]
    table = worker_receivers.RECEIPT_TABLE
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(
            f"CREATE TABLE {table} (k VARCHAR(64) NOT NULL PRIMARY KEY, title VARCHAR(64))"
        )
    yield table
    connection.close()  # a killed worker may leave nothing open, but our cursor may be
    with connections["default"].cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {table}")


@pytest.fixture
def receiver(receipts):
    """Connect the test receiver in this process; reset its failure list afterwards."""
    worker_receivers.connect()
    worker_receivers.FAIL.clear()
    yield worker_receivers
    worker_receivers.FAIL.clear()
    worker_receivers.disconnect()


def worker_env(**extra):
    """Return the environment of a worker subprocess that uses this test database."""
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "tests.events.worker_settings"
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "src"), str(ROOT), str(ROOT / "example"), env.get("PYTHONPATH", "")]
    )
    env["ROWSYNC_WORKER_TEST_CONNECT"] = "1"
    for alias in connections:
        env[f"ROWSYNC_WORKER_DB_{alias.upper()}"] = str(connections[alias].settings_dict["NAME"])
    env.update({key: str(value) for key, value in extra.items()})
    return env


def _die_with_parent():
    """Make the worker get SIGKILL when the test process dies (Linux ``PR_SET_PDEATHSIG``).

    A test run that is itself killed must not leave workers polling its database: they
    would hold SQLite's lock in the next run.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def spawn_worker(*args, env=None, **popen):
    """Start ``python -m django rowsync worker ARGS`` with the test receiver imported."""
    cmd = [
        sys.executable,
        "-m",
        "django",
        "rowsync",
        # System checks belong to the check tests; they would only slow every start.
        "--skip-checks",
        "worker",
        "--import",
        "tests.events.worker_receivers",
        *args,
    ]
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env or worker_env(),
        stdout=popen.pop("stdout", subprocess.PIPE),
        stderr=popen.pop("stderr", subprocess.PIPE),
        text=True,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        **popen,
    )
