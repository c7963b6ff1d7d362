"""The in-process pipeline: plan, capture session transitions, the paths that read nothing."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from rowsync.events import boxes, delivery, eventtable, inbox, plan, session
from rowsync.events.context import actor_context
from rowsync.events.plan import Mode, Plan, plan_for
from rowsync.events.worker import Worker
from rowsync.models import DeletedRow
from tests.evapp.models import Entry, Ledger
from tests.events.conftest import pending, queued


@pytest.mark.parametrize(
    ("modes", "expected"),
    [
        ({"transaction"}, Plan(stream_now=True, on_commit=False, worker_only=False)),
        ({"on_commit"}, Plan(stream_now=False, on_commit=True, worker_only=False)),
        ({"worker"}, Plan(stream_now=False, on_commit=False, worker_only=True)),
        ({"on_commit", "worker"}, Plan(stream_now=True, on_commit=True, worker_only=False)),
        ({"transaction", "worker"}, Plan(stream_now=True, on_commit=False, worker_only=False)),
        (set(), Plan(stream_now=False, on_commit=False, worker_only=True)),
    ],
)
def test_plan_for_modes(modes, expected):
    assert plan_for(Mode(m) for m in modes) == expected


def test_mode_is_its_setting_string():
    assert [str(m) for m in plan.MODES] == ["transaction", "on_commit", "worker"]
    assert Mode.parse("on_commit") is Mode.ON_COMMIT
    assert Mode.parse("soon") is None
    assert Mode.parse(3) is None
    assert plan.rank("") == -1
    assert plan.rank("soon") == 0
    assert plan.rank("soon", -1) == -1
    assert plan.rank(Mode.WORKER) == 2


def test_invalid_model_mode_counts_as_transaction(settings):
    settings.ROWSYNC_DELIVERY = "soon"
    assert plan.model_mode(Ledger) is Mode.TRANSACTION
    assert delivery.delivery_mode_for(Entry) is Mode.ON_COMMIT  # RowsyncMeta wins


def _tree(n=3):
    ledger = Ledger.objects.create(name="l")
    entries = [Entry.objects.create(ledger=ledger, amount=i) for i in range(n)]
    return ledger, entries


@pytest.mark.django_db
def test_on_commit_only_reads_no_event_in_the_transaction(
    deleted, monkeypatch, django_capture_on_commit_callbacks
):
    """The fast path of a delete whose models all deliver on commit: nothing streamed."""
    monkeypatch.setattr(session, "modes_in_play", lambda: frozenset({Mode.ON_COMMIT}))
    ledger, entries = _tree()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with actor_context(user_id=7):
            ledger.delete()
        assert deleted.keys("Entry") == []
        # no event is free for a worker: leased to this process (inbox rows: claimed
        # after the commit, before any receiver runs)
        assert not DeletedRow.objects.filter(claimed_until__isnull=True).exists()
    assert len(callbacks) == 1
    assert deleted.keys("Entry") == sorted(("Entry", e.pk) for e in entries)
    assert pending() == []


@pytest.mark.django_db(transaction=True)
def test_worker_only_releases_events_with_their_context(deleted, monkeypatch):
    """The fast path of a worker-only delete: the events are free, with the actor context."""
    monkeypatch.setattr(session, "modes_in_play", lambda: frozenset({Mode.WORKER}))
    ledger, entries = _tree()
    with actor_context(user_id=7):
        ledger.delete()
    assert deleted.keys("Entry") == []
    events = list(queued())
    assert [(e.claimed_by, e.claimed_until) for e in events] == [("", None)] * len(entries)
    assert all("7" in str(e.context) for e in events)
    Worker("default", listen=False, report=lambda line: None).run(drain=True)
    assert deleted.keys("Entry") == sorted(("Entry", e.pk) for e in entries)
    contexts = [c["instance"]._rowsync_context for c in deleted.calls if c["model"] == "Entry"]
    assert contexts == [{"user_id": 7}] * len(entries)


@pytest.mark.django_db(transaction=True)
def test_capture_session_transitions_and_inbox_names(deleted):
    """A hand-opened session: its rows are found, stamped, delivered and moved by name."""
    ledger, entries = _tree()
    table = connection.ops.quote_name(Entry._meta.db_table)
    gone = [entries[0].pk, entries[1].pk]
    with transaction.atomic():
        with (
            session.capture_session("default", models_deleted=[Entry]) as capture,
            connection.cursor() as cursor,
        ):
            cursor.execute(f"DELETE FROM {table} WHERE id IN (%s, %s)", gone)
        touched = boxes.touched(capture)
        if not touched:  # no inboxes (MariaDB): the events are in the table
            assert sorted(int(r.pk_text) for r in _events(capture)) == gone
            return
        capture.signalled = {(Entry._meta.label_lower, str(gone[0]))}
        boxes.drop_signalled(capture, touched)
        assert _inbox_count(capture, touched) == 1
        if capture.box_tag != capture.claim:  # triggers that write no claim (SQLite)
            boxes.stamp(capture, touched, capture.claim, None)
        assert boxes.session_rows(capture, touched[0])[1][-1] == capture.claim
        assert boxes.deliver_direct(capture, touched, None, "on_commit") == []
        assert deleted.keys("Entry") == [("Entry", gone[1])]
        boxes.move(capture, touched)
        assert capture.ceiling is None
    assert len(queued()) == 0


def _events(capture):
    return eventtable.read_batch(
        "default", capture.tag, capture.floor, eventtable.ceiling("default")
    )


def _inbox_count(capture, touched):
    total = 0
    with connection.cursor() as cursor:
        for box in touched:
            where, params = capture.box_rows(box)
            cursor.execute(
                f"SELECT COUNT(*) FROM {connection.ops.quote_name(box.inbox)} WHERE {where}",
                params,
            )
            total += cursor.fetchone()[0]
    return total


@pytest.mark.django_db(transaction=True)
def test_flush_lists_the_inboxes_that_exist():
    # events.setup() asked each engine with inboxes to list them for Django's flush.
    names = connection.introspection.django_table_names(only_existing=True)
    expected = [b.inbox for b in inbox.present("default", inbox.specs("default"))]
    assert set(expected) <= set(names)
    assert DeletedRow._meta.db_table in names
