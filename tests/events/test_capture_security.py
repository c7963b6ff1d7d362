"""Capture and delivery cannot be evaded, diverted or forged, and leak no session state.

See ``docs/security.md`` for the threat model these tests hold rowsync to.
"""

from __future__ import annotations

import contextlib
import threading
import time

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.db.models.signals import pre_delete

from rowsync.events import inbox
from rowsync.events.capture import inbox_table
from rowsync.events.context import actor_context
from rowsync.models import DeletedRow
from tests.evapp.models import Author, Office, Region
from tests.events.worker_support import make_worker

pytestmark = pytest.mark.django_db(transaction=True)


def _queue():
    """Move every free inbox row into the event table; return the events, oldest first."""
    with transaction.atomic():
        inbox.move_free("default", 10**9)
    return list(DeletedRow.objects.order_by("pk"))


def _raw_delete(model, pk):
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [pk])


# -- session state does not outlive a failed delete ---------------------------------------


@pytest.mark.parametrize("nested", [False, True], ids=["own-transaction", "savepoint"])
def test_failed_orm_delete_leaves_no_claim_lease_or_actor_on_the_connection(nested):
    """A raw delete after a failed ORM delete is free for the worker and names no actor.

    ``nested``: the delete fails inside a savepoint and the raw delete runs later in the
    same outer transaction (PostgreSQL's transaction-local settings and SQLite's session
    row must be rolled back with the savepoint).
    """
    victim, later = Author.objects.create(name="victim"), Author.objects.create(name="later")

    def refuse(sender, instance, **kwargs):
        raise RuntimeError("refused by a pre_delete receiver")

    pre_delete.connect(refuse, sender=Author, dispatch_uid="tests.security.refuse")
    with transaction.atomic() if nested else contextlib.nullcontext():
        try:
            with (
                actor_context(user_id=41),
                pytest.raises(RuntimeError),
                transaction.atomic() if nested else contextlib.nullcontext(),
            ):
                victim.delete()
        finally:
            pre_delete.disconnect(dispatch_uid="tests.security.refuse")
        _raw_delete(Author, later.pk)
    [event] = _queue()
    assert (event.pk_text, event.context) == (str(later.pk), None)
    assert (event.claimed_by, event.claimed_until) == ("", None)


# -- database errors reach the caller unchanged -----------------------------------------


def _wait_until_blocked(pid):
    """Return once session ``pid`` (PostgreSQL backend, MariaDB thread) waits for a lock."""
    if connection.vendor == "postgresql":
        sql = "SELECT 1 FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock'"
    else:
        sql = (
            "SELECT 1 FROM information_schema.innodb_trx "
            "WHERE trx_mysql_thread_id = %s AND trx_state = 'LOCK WAIT'"
        )
    with connections["other"].cursor() as cursor:
        for _ in range(10_000):
            cursor.execute(sql, [pid])
            if cursor.fetchone():
                return
            threading.Event().wait(0.01)
    raise AssertionError(f"session {pid} never waited for a lock")


def _session_id(cursor):
    if connection.vendor == "postgresql":
        cursor.execute("SELECT pg_backend_pid()")
    else:
        cursor.execute("SELECT CONNECTION_ID()")
    return cursor.fetchone()[0]


@pytest.mark.skipif(
    "os.environ.get('ROWSYNC_TEST_DB', 'sqlite') == 'sqlite'",
    reason="SQLite has a single writer: no deadlock",
)
@pytest.mark.django_db(transaction=True, databases=["default", "other"])
def test_deadlock_in_a_database_on_delete_reaches_the_caller_as_a_deadlock():
    """Retry-on-deadlock code gets the deadlock error, not TransactionManagementError."""
    first, second = Region.objects.create(name="first"), Region.objects.create(name="second")
    Office.objects.create(region=first)
    other_started = threading.Event()
    other_pid: list[int] = []
    other_error: list[BaseException] = []

    def other_session():
        # This session locks ``first``, then waits for ``second``: it is the heavier one
        # (InnoDB rolls back the lighter transaction) and the later one to check for a
        # deadlock (PostgreSQL: the session that checks first is the one that fails).
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                other_pid.append(_session_id(cursor))
                if connection.vendor == "postgresql":
                    cursor.execute("SET LOCAL deadlock_timeout = '60s'")
                else:
                    Author.objects.bulk_create(Author(name=f"weight {i}") for i in range(50))
                list(Region.objects.select_for_update().filter(pk=first.pk))
                other_started.set()
                list(Region.objects.select_for_update().filter(pk=second.pk))
        except BaseException as exc:  # reported to the main thread
            other_error.append(exc)
            other_started.set()
        finally:
            connection.close()

    thread = threading.Thread(target=other_session)
    with pytest.raises(OperationalError) as caught, transaction.atomic():
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET LOCAL deadlock_timeout = '10ms'")
        list(Region.objects.select_for_update().filter(pk=second.pk))
        thread.start()
        assert other_started.wait(60)
        assert not other_error, other_error
        _wait_until_blocked(other_pid[0])
        Region.objects.get(pk=first.pk).delete()
    thread.join(60)
    assert not other_error, other_error
    code = getattr(caught.value.__cause__, "sqlstate", None) or caught.value.args[0]
    assert code in ("40P01", 1213), caught.value


# -- forged events ----------------------------------------------------------------------


def _forge(label, op="D", pk=1, row=None):
    return DeletedRow.objects.create(
        model_label=label,
        table_name="forged",
        op=op,
        pk_text=str(pk),
        row=row if row is not None else {"id": pk, "name": "forged"},
    )


def test_forged_events_for_uncaptured_models_or_unknown_ops_become_dead_letters(deleted):
    uncaptured = _forge("auth.group", row={"id": 1, "name": "admins"})
    bad_op = _forge("evapp.author", op="Z", pk=2)
    genuine = _forge("evapp.author", pk=3)

    stats = make_worker().run(drain=True)

    assert deleted.keys() == [("Author", 3)]
    assert stats.delivered == 1
    dead = {e.pk: e for e in DeletedRow.objects.filter(status=DeletedRow.Status.DEAD)}
    assert set(dead) == {uncaptured.pk, bad_op.pk}
    assert "not captured" in dead[uncaptured.pk].last_error
    assert "auth.group" in dead[uncaptured.pk].last_error
    assert "'Z'" in dead[bad_op.pk].last_error
    assert not DeletedRow.objects.filter(pk=genuine.pk).exists()


# -- PostgreSQL: session settings and search_path cannot evade or divert capture ----------


def _raw_connection():
    """Return a new autocommit DB-API connection to the test database (not Django's)."""
    raw = connection.get_new_connection(connection.get_connection_params())
    raw.autocommit = True
    return raw


@pytest.mark.requires("supports_notify")
def test_claim_lease_and_actor_set_by_hand_do_not_park_or_label_raw_deletes(deleted):
    author = Author.objects.create(name="evader")
    raw = _raw_connection()
    try:
        raw.execute(
            "SELECT set_config('rowsync.claim', 'x', false), "
            "set_config('rowsync.lease', '100000000', false), "
            "set_config('rowsync.context', '{\"user_id\": 7}', false), "
            "set_config('rowsync.session', '1', false)"
        )
        raw.execute("DELETE FROM evapp_author WHERE id = %s", [author.pk])
    finally:
        raw.close()
    make_worker().run(drain=True)
    assert deleted.keys() == [("Author", author.pk)]
    assert deleted.calls[0]["instance"]._rowsync_context is None


@pytest.mark.requires("supports_notify")
@pytest.mark.parametrize("decoy", ["temporary table", "schema first in search_path"])
def test_a_table_named_like_the_inbox_earlier_in_search_path_receives_nothing(decoy, deleted):
    author = Author.objects.create(name="diverted")
    box = inbox_table(Author._meta.db_table)
    raw = _raw_connection()
    try:
        if decoy == "temporary table":
            raw.execute(f'CREATE TEMP TABLE "{box}" (LIKE "{box}")')
            where = f'pg_temp."{box}"'
        else:
            raw.execute("DROP SCHEMA IF EXISTS rowsync_decoy CASCADE")
            raw.execute("CREATE SCHEMA rowsync_decoy")
            raw.execute(f'CREATE TABLE rowsync_decoy."{box}" (LIKE "{box}")')
            raw.execute(
                "SELECT set_config('search_path', 'rowsync_decoy, ' || current_schema(), false)"
            )
            where = f'rowsync_decoy."{box}"'
        raw.execute("DELETE FROM evapp_author WHERE id = %s", [author.pk])
        diverted = raw.execute(f"SELECT COUNT(*) FROM {where}").fetchone()[0]
        raw.execute("DROP SCHEMA IF EXISTS rowsync_decoy CASCADE")
    finally:
        raw.close()
    assert diverted == 0
    make_worker().run(drain=True)
    assert deleted.keys() == [("Author", author.pk)]


# -- PostgreSQL: an idle worker is idle ---------------------------------------------------


class _TransactionCounter:
    """Count the transactions a Django connection commits: atomic blocks and autocommit queries."""

    def __init__(self, conn):
        self.conn = conn
        self.count = 0
        commit = conn.commit

        def counted_commit():
            self.count += 1
            commit()

        conn.commit = counted_commit

    def __call__(self, execute, sql, params, many, context):
        if not self.conn.in_atomic_block:
            self.count += 1
        return execute(sql, params, many, context)


@pytest.mark.requires("supports_notify")
def test_an_idle_worker_causes_no_notify_and_commits_only_once_per_poll():
    poll = 0.2
    worker = make_worker(listen=True, poll_interval=poll)
    listener = _raw_connection()
    listener.execute("LISTEN rowsync_events")
    figures = {}

    def run():
        conn = connections["default"]
        counter = _TransactionCounter(conn)
        try:
            with conn.execute_wrapper(counter):
                per_pass = []
                for _ in range(3):  # the first passes refill from the inboxes
                    before = counter.count
                    worker.run_once()
                    per_pass.append(counter.count - before)
                figures["per_pass"] = max(per_pass)
                before, started = counter.count, time.monotonic()
                worker.run()
                figures["elapsed"] = time.monotonic() - started
                figures["idle"] = counter.count - before
        finally:
            conn.close()

    thread = threading.Thread(target=run)
    thread.start()
    threading.Event().wait(2.0)
    worker.stop()
    thread.join(60)
    assert not thread.is_alive()
    # Every NOTIFY committed before the marker arrives before it.
    with _raw_connection() as sender:
        sender.execute("SELECT pg_notify('rowsync_events', 'end of test')")
    caused = 0
    for note in listener.notifies(timeout=30):
        if note.payload == "end of test":
            break
        caused += 1
    listener.close()
    assert caused == 0
    # One pass per poll interval, the first and the last, and one for the heartbeats the
    # worker writes when it starts and stops (a busy loop would make hundreds).
    passes = figures["elapsed"] / poll + 3
    assert figures["idle"] <= passes * figures["per_pass"], figures
