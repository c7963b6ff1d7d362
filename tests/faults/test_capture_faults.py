"""Capture that cannot finish: a statement timeout, a temp-file limit, a full disk.

The delete (an ORM delete whose articles the database cascades) runs in a program of its
own (:mod:`tests.faults.actor`) while the capture is made to fail. Each fault must leave
one of two states: the delete failed as a whole (every row still there, no event, no
receipt), or it succeeded with every event kept. The delete is then retried with the
fault gone: every event is delivered once.
"""

from __future__ import annotations

import contextlib

import pytest
from django.db import connections

from rowsync.events import inbox
from tests.faults.instances import fill_filesystem, mount_tmpfs, unmount
from tests.faults.support import ALIAS

pytestmark = pytest.mark.fault_engine("postgresql", "mariadb")


def capture_table():
    """Return the table the capture triggers write the articles' rows into."""
    for spec in inbox.specs(ALIAS):
        if spec.model_label.lower() == "blog.article":
            return spec.inbox
    return "rowsync_deleted_row"  # engines without inboxes write events directly


def failed_delete(fault, blog, pks, fault_name, expected_error, during=None, **env):
    """Run the delete under a fault (held by the context manager ``during``); check it
    failed cleanly; return its stderr."""
    with during or contextlib.nullcontext():
        actor = fault.actor(blog, **env)
        out, err = actor.communicate(timeout=180)
    assert actor.returncode == 2, f"the delete did not fail:\n{out}\n{err[-3000:]}"
    assert expected_error in err, err[-3000:]
    assert "committed" not in out
    gone = set(pks) - fault.present(pks)
    tally = fault.tally(fault_name, gone, notes="the delete failed as a whole")
    assert tally.expected == 0 and tally.stray == 0 and tally.pending == 0, tally.line()
    return err


def retried_delete(fault, blog, pks, fault_name):
    """Retry the delete without the fault; every event is delivered once."""
    actor = fault.actor(blog)
    out, err = actor.communicate(timeout=180)
    assert actor.returncode == 0, f"{out}\n{err[-3000:]}"
    gone = set(pks) - fault.present(pks)
    assert gone == set(pks)
    tally = fault.tally(fault_name + ", then the delete retried", gone)
    assert tally.lost == 0 and tally.duplicated == 0, tally.line()
    assert tally.stray == 0 and tally.pending == 0, tally.line()
    # Only the retry called the receiver: the failed attempt never reached it.
    assert tally.outside_duplicated == 0, tally.line()


@contextlib.contextmanager
def capture_table_locked():
    """Hold a lock on the capture table from another connection: the triggers' writes wait."""
    wrapper = connections[ALIAS]
    raw = wrapper.get_new_connection(wrapper.get_connection_params())
    table = wrapper.ops.quote_name(capture_table())
    try:
        with raw.cursor() as cursor:
            if wrapper.vendor == "postgresql":
                raw.autocommit = False
                cursor.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
            else:
                cursor.execute(f"LOCK TABLES {table} WRITE")
        yield
    finally:
        with contextlib.suppress(Exception):
            raw.rollback()
        raw.close()


def test_statement_timeout_during_capture(fault_db):
    blog, pks = fault_db.make_blog(2000)
    name = "statement timeout during capture"
    if fault_db.engine == "postgresql":
        session_sql, error = "SET LOCAL statement_timeout = '2s'", "statement timeout"
    else:
        session_sql, error = "SET SESSION max_statement_time = 2", "max_statement_time"
    err = failed_delete(
        fault_db,
        blog,
        pks,
        name,
        error,
        during=capture_table_locked(),
        ROWSYNC_FAULT_SESSION_SQL=session_sql,
    )
    if fault_db.engine == "postgresql":
        # The statement the timeout cancelled is the capture trigger's write.
        assert capture_table() in err.rsplit("context: ", 1)[-1], err[-3000:]
    retried_delete(fault_db, blog, pks, name)


@pytest.mark.fault_engine("postgresql")
def test_temp_file_limit_during_capture(fault_db):
    # The trigger's transition table (the deleted rows, about 1.7 MB here) spills to a
    # temporary file past work_mem (1 MB); temp_file_limit makes that file "full". The
    # queries rowsync runs before the DELETE stay in memory.
    blog, pks = fault_db.make_blog(5000, desc="d" * 255)
    name = "temp_file_limit reached during capture (transition table)"
    failed_delete(
        fault_db,
        blog,
        pks,
        name,
        "temp_file_limit",
        ROWSYNC_FAULT_SESSION_SQL="SET LOCAL work_mem = '1MB'; SET LOCAL temp_file_limit = '64kB'",
    )
    # The server says where: in the cascade's DELETE of the articles, whose deleted rows
    # the capture trigger's transition table collects.
    log = "\n".join(fault_db.server.tail(200).split("temp_file_limit", 1)[-1].splitlines()[:3])
    assert 'CONTEXT:  SQL statement "DELETE FROM ONLY "public"."blog_article"' in log, log
    retried_delete(fault_db, blog, pks, name)


@contextlib.contextmanager
def tiny_filesystem(folder, size, owner):
    """Mount a tmpfs of ``size`` at ``folder`` (root only), owned by ``owner`` (uid, gid)."""
    if not mount_tmpfs(folder, size, owner):
        pytest.skip("cannot mount a tiny filesystem here (it needs root)")
    try:
        yield folder
    finally:
        unmount(folder)


@pytest.mark.fault_engine("postgresql")
def test_full_disk_during_capture(fault_db):
    # The inbox moves to a tablespace on a 256 kB filesystem: the trigger's copy of 5,000
    # rows cannot extend its file (ENOSPC).
    blog, pks = fault_db.make_blog(5000)
    table = connections[ALIAS].ops.quote_name(capture_table())
    name = "disk full during capture (inbox on a 256 kB tmpfs)"
    server = fault_db.server  # the mount point must be reachable by the server's user
    with tiny_filesystem(server.root / "disk", "256k", server.owner_ids()) as disk:
        try:
            with connections[ALIAS].cursor() as cursor:
                # Empty, but its file keeps the pages of earlier tests: start afresh.
                cursor.execute(f"TRUNCATE {table}")
                cursor.execute(f"CREATE TABLESPACE rowsync_fault_small LOCATION '{disk}'")
                cursor.execute(f"ALTER TABLE {table} SET TABLESPACE rowsync_fault_small")
            failed_delete(fault_db, blog, pks, name, "No space left on device")
        finally:
            with connections[ALIAS].cursor() as cursor:
                cursor.execute(f"ALTER TABLE {table} SET TABLESPACE pg_default")
                cursor.execute("DROP TABLESPACE IF EXISTS rowsync_fault_small")
                # Crash recovery after a later kill must not replay the tablespace's
                # creation: its directory is about to go.
                cursor.execute("CHECKPOINT")
    retried_delete(fault_db, blog, pks, name)


@pytest.mark.fault_engine("mariadb")
def test_full_disk_during_capture_mariadb(fault_db):
    # The server's data directory is a filesystem of its own: filled up to 256 kB, the
    # events of 10,000 rows cannot be written (InnoDB: "The table ... is full").
    if fault_db.server.small_fs is None:
        pytest.skip("the data directory is not on a filesystem of its own (it needs root)")
    blog, pks = fault_db.make_blog(10_000)
    name = "disk full during capture (data directory filled up)"
    filler = fill_filesystem(fault_db.server.small_fs, 256 * 1024)
    try:
        failed_delete(fault_db, blog, pks, name, "is full")
    finally:
        filler.unlink()
    retried_delete(fault_db, blog, pks, name)
