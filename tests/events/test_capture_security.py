"""Capture and delivery cannot be evaded, diverted or forged, and leak no session state.

See ``docs/security.md`` for the threat model these tests hold rowsync to.
"""

from __future__ import annotations

import contextlib
import threading

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.db.models.signals import pre_delete

from rowsync.events import inbox
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
