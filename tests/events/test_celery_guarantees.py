"""When the Celery hand-off publishes, what a refused publish leaves, and :func:`once`.

These run in the test process: a recording publisher (any object with ``apply_async``), a
real Celery producer against a private ``redis-server`` stopped and started again, and
:class:`rowsync.events.celery.RedisLedger` on the shared Redis. The end-to-end runs with a
``celery worker`` are in ``test_celery_handoff.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import uuid

import pytest
from django.db import transaction
from django.db.models.signals import post_delete

from rowsync.events.celery import EventInFlight, RedisLedger, celery_handoff, once
from rowsync.events.receivers import receiver_delivery
from rowsync.events.retry import RetryPolicy
from rowsync.events.worker import Worker
from rowsync.models import DeletedRow
from tests.evapp.models import Author, Book
from tests.events.conftest import pending

pytestmark = pytest.mark.django_db(transaction=True)

REDIS = os.environ.get("ROWSYNC_TEST_REDIS", "redis://127.0.0.1:6379/11")


def needs(what, reason):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what}: {reason}")
    pytest.skip(f"{what}: {reason}")


class Publisher:
    """Records ``apply_async`` calls; refuses them (as a broker that is down) when ``down``."""

    def __init__(self):
        self.down = False
        self.tried: list[str] = []
        self.sent: list[dict] = []

    def apply_async(self, args, task_id, **options):
        self.tried.append(task_id)
        if self.down:
            raise ConnectionRefusedError("broker down")
        assert args[0]["task_id"] == task_id
        self.sent.append({**args[0], "options": options})


@pytest.fixture
def uids():
    connected = []
    yield connected
    for sender, uid in connected:
        assert post_delete.disconnect(sender=sender, dispatch_uid=uid)


def hand_off(uids, task, sender=Book, **kwargs):
    uid = f"celery-guarantees.{sender.__name__}"
    celery_handoff(task, sender=sender, dispatch_uid=uid, **kwargs)
    uids.append((sender, uid))


def drain():
    # A failed event waits an hour: one attempt per drain (due_again() makes it due).
    policy = RetryPolicy(max_attempts=5, base_delay=3600, jitter=0)
    worker = Worker("default", policy=policy, progress_interval=0, listen=False)
    worker.report = lambda line: None
    return worker.run(drain=True)


def due_again():
    DeletedRow.objects.update(next_attempt_at=None)


def make_books(count):
    author = Author.objects.create(name="a")
    books = [Book.objects.create(author=author, title=f"b{i}") for i in range(count)]
    return author, sorted(b.pk for b in books)


@pytest.mark.parametrize("mode", ["transaction", "on_commit"])
def test_in_process_modes_publish_after_the_commit_only(uids, mode):
    publisher = Publisher()
    hand_off(uids, publisher, delivery=mode, options={"queue": "q"})
    author, pks = make_books(2)
    with pytest.raises(RuntimeError), transaction.atomic():
        Author.objects.get(pk=author.pk).delete()
        raise RuntimeError
    assert publisher.tried == []
    with transaction.atomic():
        author.delete()
        assert publisher.tried == []  # not before the commit
    assert sorted(p["pk"] for p in publisher.sent) == pks
    for payload in publisher.sent:
        assert payload["options"] == {"queue": "q"} and payload["model"] == "evapp.book"
        event = payload["event_id"]
        # Read from the event table (MariaDB) or straight from an inbox (no event id).
        expected = f"rowsync:default:{event}" if event is not None else "rowsync:default:x"
        assert payload["task_id"].startswith(expected)
    assert pending() == []


def test_worker_mode_keeps_the_event_while_the_broker_refuses(uids):
    publisher = Publisher()
    hand_off(uids, publisher)  # delivery="worker", the default
    author, pks = make_books(3)
    author.delete()
    assert publisher.tried == []  # the worker publishes
    publisher.down = True
    stats = drain()
    assert stats.delivered == 0 and stats.failed == 3
    refused = sorted(set(publisher.tried))
    assert DeletedRow.objects.filter(attempts=1).count() == 3  # kept, to try again
    publisher.down = False
    due_again()
    assert drain().delivered == 3
    sent = sorted(publisher.sent, key=lambda p: p["task_id"])
    # The same key on every attempt: what a consumer deduplicates on.
    assert [p["task_id"] for p in sent] == refused
    assert sorted(p["pk"] for p in sent) == pks
    assert all(p["task_id"] == f"rowsync:default:{p['event_id']}" for p in sent)
    assert pending() == []


@receiver_delivery("worker")
def later_receiver(sender, instance, **kwargs):
    """A receiver of a later phase: the on-commit phase reads the events from the table."""


def test_on_commit_mode_leaves_refused_events_to_the_worker(uids):
    publisher = Publisher()
    publisher.down = True
    hand_off(uids, publisher, delivery="on_commit")
    post_delete.connect(later_receiver, sender=Book, weak=False, dispatch_uid="cg.later")
    uids.append((Book, "cg.later"))
    author, pks = make_books(2)
    author.delete()  # the on-commit phase publishes after the commit: refused, rolled back
    refused = set(publisher.tried)
    assert refused and publisher.sent == []
    assert DeletedRow.objects.count() == 2  # still there, leased to the on-commit phase
    DeletedRow.objects.update(claimed_until=None)  # as when the lease runs out
    publisher.down = False
    assert drain().delivered == 2
    assert sorted(p["pk"] for p in publisher.sent) == pks
    keys = {p["task_id"] for p in publisher.sent}
    assert keys == {f"rowsync:default:{p['event_id']}" for p in publisher.sent} >= refused
    assert pending() == []


def test_rows_django_signals_itself_are_published_on_commit_without_an_event_id(uids):
    publisher = Publisher()
    hand_off(uids, publisher, sender=Author)  # the root of the delete: Django signals it
    author, _pks = make_books(1)
    pk = author.pk
    with transaction.atomic():
        author.delete()
        assert publisher.tried == []
    ((payload,),) = [publisher.sent]
    assert payload["pk"] == pk and payload["event_id"] is None
    assert payload["task_id"].startswith("rowsync:default:x")


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A ``redis-server`` of this test's own, to stop and start again."""

    def __init__(self, tmp_path):
        self.port, self.dir, self.proc = _free_port(), tmp_path, None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        cmd += ["--save", "", "--appendonly", "no", "--dir", str(self.dir)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise AssertionError("private redis-server did not start")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path):
    if shutil.which("redis-server") is None:
        needs("redis-server", "not installed")
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def test_a_celery_broker_that_is_down_loses_no_event(uids, private_redis):
    """A real Celery producer: the broker stops, the worker keeps the events, it comes back."""
    import redis
    from celery import Celery

    app = Celery("rowsync_broker_down", broker=private_redis.url)
    app.conf.update(
        task_publish_retry=False,
        # Give up connecting at once (the default retries for seconds).
        broker_transport_options={"max_retries": 1, "interval_start": 0, "interval_max": 0.1},
    )
    queue = f"down-{uuid.uuid4().hex[:8]}"

    @app.task(name="rowsync_test.down")
    def task(event):
        return None

    hand_off(uids, task, options={"queue": queue})
    author, pks = make_books(2)
    author.delete()
    private_redis.stop()
    stats = drain()
    assert stats.delivered == 0 and stats.failed == 2
    assert sorted(int(p) for p in DeletedRow.objects.values_list("pk_text", flat=True)) == pks
    ids = sorted(DeletedRow.objects.values_list("id", flat=True))
    private_redis.start()
    due_again()
    assert drain().delivered == 2
    messages = redis.Redis.from_url(private_redis.url).lrange(queue, 0, -1)
    found = sorted(json.loads(m)["headers"]["id"] for m in messages)
    print(f"\nbroker down: expected 2 published {len(found)} lost {2 - len(found)}")
    assert found == sorted(f"rowsync:default:{i}" for i in ids)
    assert pending() == []


@pytest.fixture
def ledger():
    import redis

    client = redis.Redis.from_url(REDIS, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        needs("Redis", f"not answering at {REDIS}: {exc}")
    prefix = f"rowsync-test-once-{uuid.uuid4().hex[:8]}:"
    yield RedisLedger(prefix=prefix, ttl=60, lease=0.3, client=client)
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)


def test_once_runs_a_key_once_retries_failures_and_waits_for_one_in_flight(ledger):
    runs = []

    @once(ledger)
    def work(payload):
        runs.append(payload["task_id"])
        if payload.get("fail"):
            raise ValueError("boom")
        return len(runs)

    assert work({"task_id": "k1"}) == 1
    assert work({"task_id": "k1"}) is None  # done: skipped
    with pytest.raises(ValueError):
        work({"task_id": "k2", "fail": True})
    assert work({"task_id": "k2"}) == 3  # a failed run released its reservation
    other = RedisLedger(prefix=ledger.prefix, lease=0.3, client=ledger.client)
    assert other.begin("k3") is True  # another delivery runs k3 (or died running it)
    with pytest.raises(EventInFlight):
        work({"task_id": "k3"})
    time.sleep(0.4)  # its lease runs out: a lost worker's key may run again
    assert work({"task_id": "k3"}) == 4
    other.abort("k3")  # the stale reservation cannot undo the finished run
    assert work({"task_id": "k3"}) is None
    assert runs == ["k1", "k2", "k2", "k3"]
