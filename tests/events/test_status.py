"""``manage.py rowsync status``: what it reports, its JSON document, thresholds, bad input."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from rowsync.backends import get_backend
from rowsync.events.cli_status import UNHEALTHY
from rowsync.models import DeletedRow, WorkerHeartbeat
from tests.events.worker_support import capture_articles, insert_events

pytestmark = pytest.mark.django_db


def status(*args):
    """Run the command; return (exit status, stdout)."""
    out = StringIO()
    try:
        call_command("rowsync", "status", *args, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


def heartbeat(worker_id, seconds_ago, **fields):
    now = timezone.now()
    WorkerHeartbeat.objects.create(
        worker_id=worker_id,
        hostname="host",
        pid=4242,
        started_at=now - timedelta(seconds=seconds_ago + 60),
        seen_at=now - timedelta(seconds=seconds_ago),
        **fields,
    )


@pytest.fixture
def scene():
    """Pending events in the event table and in the inboxes, dead letters, a lease in
    force, one alive and one stale worker."""
    captured = capture_articles(4)  # raw SQL: into the inbox where the engine has one
    insert_events(3, start=1000)  # straight into the event table
    DeletedRow.objects.filter(pk_text__in=["1000", "1001", "1002"]).update(
        created_at=timezone.now() - timedelta(seconds=120)
    )
    insert_events(2, start=2000, label="blog.Blog", status=DeletedRow.Status.DEAD)
    insert_events(
        1,
        start=3000,
        claimed_by="host:1:abc",
        claimed_until=timezone.now() + timedelta(minutes=5),
    )
    heartbeat("alive-1", 1, state="idle", delivered=10, delivered_last_minute=7)
    heartbeat("dead-1", 600, state="busy", delivered=3, delivered_last_minute=3)
    return captured


def test_json_counts_event_table_inbox_dead_letters_leases_and_workers(scene):
    code, out = status("--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["schema"] == 1
    assert doc["database"] == "default"
    assert doc["healthy"] is True and doc["checks"] == []
    article = doc["pending"]["by_model"]["blog.Article"]
    if get_backend(connection).capture_inbox:
        # The raw-SQL delete's rows wait in the inbox until a worker moves them.
        assert article == {"queued": 4, "inbox": 4}
    else:
        assert article == {"queued": 8, "inbox": 0}
    assert doc["pending"]["total"] == 8
    assert 110 <= doc["pending"]["oldest_age_seconds"] < 600
    assert doc["in_flight"] == {"total": 1, "by_claimant": {"host:1:abc": 1}}
    assert doc["dead_letters"] == {"total": 2, "by_model": {"blog.Blog": 2}}
    workers = doc["workers"]
    assert (workers["alive"], workers["stale"], workers["stale_after_seconds"]) == (1, 1, 30.0)
    by_id = {w["worker_id"]: w for w in workers["list"]}
    assert by_id["alive-1"]["alive"] is True and by_id["dead-1"]["alive"] is False
    assert 590 <= by_id["dead-1"]["age_seconds"] < 900
    assert set(by_id["alive-1"]) == {
        "worker_id", "hostname", "pid", "state", "started_at", "seen_at", "age_seconds",
        "alive", "delivered", "failed", "dead", "delivered_last_minute", "failed_last_minute",
    }  # fmt: skip
    # The rate sums alive workers only.
    assert doc["rates"] == {"delivered_last_minute": 7, "failed_last_minute": 0}


def test_human_output_is_a_table(scene):
    code, out = status()
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("rowsync status of database 'default' at ")
    assert "pending: 8 (oldest queued: " in out and "dead letters: 2" in out
    header = next(line for line in lines if line.startswith("model "))
    assert header.split() == ["model", "queued", "inbox", "dead"]
    row = next(line for line in lines if line.startswith("blog.Blog "))
    assert row.split() == ["blog.Blog", "0", "0", "2"]
    assert any(line.split()[:2] == ["host:1:abc", "1"] for line in lines)
    assert "workers: 1 alive, 1 stale (no heartbeat for 30s); last minute: 7 delivered" in out
    assert any(line.split()[:2] == ["dead-1", "STALE"] for line in lines)
    assert any(line.split()[:2] == ["alive-1", "idle"] for line in lines)


THRESHOLDS = [
    (["--max-pending", "8", "--max-dead", "2", "--require-workers", "1"], []),
    (["--max-pending", "7"], ["max-pending"]),
    (["--max-age", "60"], ["max-age"]),
    (["--max-age", "3600"], []),
    (["--max-dead", "1"], ["max-dead"]),
    (["--require-workers", "2"], ["require-workers"]),
    (["--max-stale", "0"], ["max-stale"]),
    # A longer patience makes the silent worker alive again.
    (["--stale-after", "3600", "--max-stale", "0", "--require-workers", "2"], []),
    (["--max-pending", "0", "--max-dead", "0"], ["max-pending", "max-dead"]),
    (["--require-worker", "alive-1"], []),
    (["--require-worker", "alive-1", "--require-worker", "dead-1"], ["require-worker dead-1"]),
    (["--require-worker", "nobody"], ["require-worker nobody"]),
]


def test_thresholds_set_the_exit_status(scene):
    for args, crossed in THRESHOLDS:
        code, out = status("--json", *args)
        doc = json.loads(out)
        assert code == (UNHEALTHY if crossed else 0), args
        assert doc["healthy"] is not crossed
        assert [c["check"] for c in doc["checks"] if not c["ok"]] == crossed, args
        code, out = status(*args)
        assert code == (UNHEALTHY if crossed else 0), args
        for name in crossed:
            assert f"{name}: " in out and "CROSSED" in out


def test_unhealthy_message_names_the_crossed_threshold(scene):
    with pytest.raises(CommandError) as info:
        call_command("rowsync", "status", "--max-dead", "1", stdout=StringIO())
    assert info.value.returncode == UNHEALTHY
    assert "max-dead: 2 (wanted <= 1) CROSSED" in str(info.value)


def test_empty_database_is_healthy_and_says_so():
    code, out = status("--json", "--max-pending", "0", "--max-dead", "0", "--max-stale", "0")
    assert code == 0
    doc = json.loads(out)
    assert doc["pending"] == {"total": 0, "oldest_age_seconds": None, "by_model": {}}
    assert doc["workers"]["list"] == []
    code, out = status()
    assert "pending: 0 (oldest queued: -)" in out
    assert "workers: 0 alive, 0 stale" in out


@pytest.mark.parametrize(
    "args",
    [
        ["--max-pending", "-1"],
        ["--max-pending", "many"],
        ["--max-age", "nan"],
        ["--max-age", "-5"],
        ["--stale-after", "inf"],
        ["--require-workers", "1.5"],
        ["--database", "nope"],
    ],
)
def test_bad_input_is_a_command_error(args):
    with pytest.raises(CommandError):
        call_command("rowsync", "status", *args, stdout=StringIO())


def test_an_inbox_shared_with_a_proxy_model_counts_once():
    from rowsync.events import claim as claims
    from tests.fuzzapp.models import Place

    place = Place.objects.create(name="p")
    table = connection.ops.quote_name(Place._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [place.pk])
    doc = json.loads(status("--json")[1])
    assert doc["pending"]["total"] == 1
    key = "inbox" if get_backend(connection).capture_inbox else "queued"
    assert doc["pending"]["by_model"]["fuzzapp.Place"][key] == 1
    assert claims.pending_count("default") == 1
