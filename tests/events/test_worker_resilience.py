"""The worker loop outlives a database error; ``--drain`` reports it instead."""

from __future__ import annotations

import logging
import threading

import pytest
from django.db import DatabaseError, connection, connections

from tests.events.worker_support import insert_events, make_worker

pytestmark = pytest.mark.django_db(transaction=True)

TABLE, AWAY = "rowsync_deleted_row", "rowsync_deleted_row_away"


def _rename(old: str, new: str) -> None:
    conn = connections["default"]
    qn = conn.ops.quote_name
    with conn.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {qn(old)} RENAME TO {qn(new)}")


@pytest.fixture
def table_away():
    """Take the event table away (committed); it is always back after the test."""
    _rename(TABLE, AWAY)
    yield
    with connection.cursor() as cursor:
        present = connection.introspection.table_names(cursor)
    if AWAY in present:
        _rename(AWAY, TABLE)


def test_drain_raises_the_database_error(table_away):
    with pytest.raises(DatabaseError):
        make_worker().run(drain=True)


def test_running_worker_logs_reconnects_and_goes_on(table_away, caplog):
    def bring_back():
        try:
            _rename(AWAY, TABLE)
        finally:
            connections["default"].close()

    timer = threading.Timer(0.5, bring_back)
    worker = make_worker(poll_interval=0.05)
    timer.start()
    try:
        with caplog.at_level(logging.WARNING, logger="rowsync.worker"):
            stats = worker.run(max_events=0)  # stop after the first pass that works
    finally:
        timer.join()
    messages = {r.getMessage().split(",")[0] for r in caplog.records}
    assert messages == {"database error"}
    assert stats.delivered == 0
    insert_events(2)
    assert make_worker().run(drain=True).delivered == 2
