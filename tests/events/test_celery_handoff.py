"""Celery hand-off end to end: a real Redis broker and a real ``celery worker`` process.

The test process deletes rows (ORM cascade, raw SQL) and runs the rowsync worker, which
publishes one task per event (:func:`rowsync.events.celery.celery_handoff`); a
``celery worker`` subprocess (:mod:`tests.events.celery_app`) writes one row per run into
a table of the test database. Redis: ``ROWSYNC_TEST_REDIS`` (default database 11 of
127.0.0.1:6379), a queue and ledger keys of this run's own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from django.db import connection, transaction
from django.db.models.signals import post_delete

from rowsync.events.context import actor_context
from rowsync.events.retry import RetryPolicy
from rowsync.events.worker import Worker
from rowsync.models import DeletedRow
from tests.evapp.models import Author, Book, Chapter
from tests.events.worker_support import ROOT, _die_with_parent, worker_env

pytestmark = pytest.mark.django_db(transaction=True)

REDIS = os.environ.get("ROWSYNC_TEST_REDIS", "redis://127.0.0.1:6379/11")
QUEUE = f"rowsync-test-{os.environ.get('ROWSYNC_TEST_DB_SUFFIX', '')}-{uuid.uuid4().hex[:8]}"
TABLE = "rowsync_test_celery_runs"


def _redis():
    import redis

    client = redis.Redis.from_url(REDIS, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is not answering at {REDIS}: {exc}")
        pytest.skip(f"Redis is not answering at {REDIS}")
    return client


@pytest.fixture(scope="module")
def app():
    """The test Celery app, configured for this run's broker and queue."""
    client = _redis()
    os.environ["ROWSYNC_CELERY_BROKER"] = REDIS
    os.environ["ROWSYNC_CELERY_QUEUE"] = QUEUE
    from tests.events import celery_app

    assert celery_app.QUEUE == QUEUE, "tests.events.celery_app was imported before"
    yield celery_app
    keys = [QUEUE, f"_kombu.binding.{QUEUE}", f"_kombu.binding_permanent.{QUEUE}"]
    keys += client.scan_iter(f"{QUEUE}:*", count=1000)
    client.delete(*keys)


@pytest.fixture
def runs_table(app, tmp_path):
    """Create the table the Celery task writes into (committed); drop it after."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")
        cursor.execute(
            f"CREATE TABLE {TABLE} (task_id VARCHAR(80) NOT NULL, model VARCHAR(64),"
            " pk VARCHAR(32), event_id BIGINT NULL, actor VARCHAR(32))"
        )
    yield TABLE
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")


@pytest.fixture
def celery_workers(app, tmp_path):
    """Start ``celery worker`` processes; kill every one still running after the test."""
    procs = []
    flags = tmp_path / "flags"
    flags.mkdir()

    def start():
        log_path = tmp_path / f"worker{len(procs)}.log"
        log = open(log_path, "w")  # noqa: SIM115
        env = worker_env(
            ROWSYNC_CELERY_WORKER="1",
            ROWSYNC_CELERY_BROKER=REDIS,
            ROWSYNC_CELERY_QUEUE=QUEUE,
            ROWSYNC_CELERY_FLAGS=flags,
            # Celery runs Django's system checks at start; they belong to the check tests
            # and would connect to every database (this run may have created only one).
            CELERY_SKIP_CHECKS="1",
        )
        cmd = [sys.executable, "-m", "celery", "-A", "tests.events.celery_app", "worker"]
        cmd += ["--pool=solo", "-Q", QUEUE, "-n", f"{QUEUE}-{len(procs)}@%h"]
        cmd += ["--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "WARNING"]
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        log.close()  # the worker has its own copy
        proc.log_path = log_path
        procs.append(proc)
        return proc

    start.flags = flags
    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()  # warm shutdown: coverage writes its data
    for proc in procs:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def handoffs():
    """Disconnect every hand-off a test connects."""
    connected = []
    yield connected
    for sender, uid in connected:
        assert post_delete.disconnect(sender=sender, dispatch_uid=uid)


def connect(app, handoffs, sender, **kwargs):
    from rowsync.events.celery import celery_handoff

    uid = f"celery-test.{sender.__name__}"
    celery_handoff(app.record, sender=sender, dispatch_uid=uid, **kwargs)
    handoffs.append((sender, uid))


def drain():
    policy = RetryPolicy(max_attempts=3, base_delay=0, jitter=0)
    worker = Worker("default", policy=policy, progress_interval=0, listen=False)
    worker.report = lambda line: None
    return worker.run(drain=True)


def runs():
    """Return ``[(task_id, model, pk, event_id, actor)]`` of every run of the task."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT task_id, model, pk, event_id, actor FROM {TABLE}")
        return sorted(cursor.fetchall(), key=lambda r: (r[1], int(r[2]), r[0]))


def assert_alive(proc):
    if proc.poll() is not None:
        log = proc.log_path.read_text()
        raise AssertionError(f"celery worker exited with {proc.returncode}:\n{log}")


def wait_runs(count, procs, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = runs()
        if len(found) >= count:
            return found
        for proc in procs:
            assert_alive(proc)
        time.sleep(0.05)
    return runs()


def make_books(name, count, chapters=1):
    author = Author.objects.create(name=name)
    books = [Book.objects.create(author=author, title=f"{name}{i}") for i in range(count)]
    for book in books:
        for j in range(chapters):
            Chapter.objects.create(book=book, title=f"c{j}")
    return author, books


def test_orm_cascade_and_raw_sql_deletes_run_one_task_per_row(
    app, runs_table, celery_workers, handoffs
):
    proc = celery_workers()  # starts while the rows are deleted
    for model in (Author, Book, Chapter):
        connect(app, handoffs, model)
    orm_author, orm_books = make_books("orm", 3, chapters=2)
    raw_author, raw_books = make_books("raw", 2)
    author_pk = orm_author.pk
    with actor_context(actor="alice"):
        orm_author.delete()  # Django signals the author; the database cascades
    with transaction.atomic(), connection.cursor() as cursor:
        table = connection.ops.quote_name(Book._meta.db_table)
        cursor.execute(f"DELETE FROM {table} WHERE author_id = %s", [raw_author.pk])
    assert drain().delivered == 3 * 3 + 2 * 2  # books and chapters: events of the event table
    assert DeletedRow.objects.count() == 0
    found = wait_runs(1 + 9 + 4, [proc])
    assert len(found) == 14 and len({r[0] for r in found}) == 14  # no duplicate
    (author_run,) = [r for r in found if r[1] == "evapp.author"]
    # the root: signalled by Django itself, no event: published after the commit, no id
    assert author_run[2] == str(author_pk) and author_run[3] is None
    assert author_run[0].startswith("rowsync:default:x") and author_run[4] == "alice"
    events = [r for r in found if r[1] != "evapp.author"]
    assert all(r[0] == f"rowsync:default:{r[3]}" for r in events)  # task id = event id
    books = [r for r in events if r[1] == "evapp.book"]
    assert sorted(int(r[2]) for r in books) == sorted(b.pk for b in orm_books + raw_books)
    assert {r[4] for r in books if int(r[2]) in {b.pk for b in orm_books}} == {"alice"}
    assert {r[4] for r in books if int(r[2]) in {b.pk for b in raw_books}} == {""}
    assert len([r for r in events if r[1] == "evapp.chapter"]) == 3 * 2 + 2


@pytest.mark.parametrize("where", ["before", "after"])
def test_killed_celery_worker_loses_nothing(app, runs_table, celery_workers, handoffs, where):
    """SIGKILL the worker while a task blocks ``where`` its work; a new worker finishes.

    ``before``: the task had not written its row: redelivered, run once, no duplicate.
    ``after``: the row was written but the ledger not told: redelivered and run again,
    the one duplicate ``docs/celery.md`` describes.
    """
    flags = celery_workers.flags
    (flags / "block").write_text(where)
    first = celery_workers()
    connect(app, handoffs, Book)
    author, books = make_books("kill", 4, chapters=0)
    author.delete()
    assert drain().delivered == 4
    deadline = time.monotonic() + 30
    while not (flags / "blocked").exists() and time.monotonic() < deadline:
        assert_alive(first)
        time.sleep(0.02)
    blocked = (flags / "blocked").read_text()
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    (flags / "block").unlink()
    second = celery_workers()
    found = wait_runs(5 if where == "after" else 4, [second])
    time.sleep(0.3)  # a late duplicate would show now
    found = runs()
    keys = [r[0] for r in found]
    delivered = set(keys)
    duplicated = len(keys) - len(delivered)
    lost = 4 - len(delivered)
    print(f"\ncelery kill {where}: expected 4 delivered {len(delivered)} ", end="")
    print(f"duplicated {duplicated} lost {lost}")
    assert lost == 0
    assert {int(r[2]) for r in found} == {b.pk for b in books}
    if where == "before":
        assert duplicated == 0
    else:
        assert duplicated == 1 and keys.count(blocked) == 2
