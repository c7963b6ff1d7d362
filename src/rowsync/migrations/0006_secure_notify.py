"""PostgreSQL: a worker's refill of its queue wakes nobody; rowsync's functions pin search_path.

* The statement-level ``AFTER INSERT`` trigger on ``rowsync_deleted_row`` (0004) fired for
  every ``INSERT`` statement, even one that inserted no row: an idle worker's refill of
  the queue from the inboxes woke itself (and every other worker) several times a second.
  A worker marks its refill with the transaction-local setting ``rowsync.refill``; the
  rows it moves are delivered by that worker, and rows written for no session woke the
  workers already when the capture trigger wrote them into the inbox. Setting it by hand
  only delays a wake-up until the next poll.
* ``rowsync_notify_worker()`` (0003) and ``rowsync_notify_worker_statement()`` run with
  ``search_path = pg_catalog, pg_temp``: the ``search_path`` of the session that writes
  the event table cannot choose what they call.

The SQL is frozen here on purpose: later versions of rowsync must not change what this
migration installed.
"""

from __future__ import annotations

from django.db import migrations

PG_INSTALL = [
    """CREATE OR REPLACE FUNCTION rowsync_notify_worker_statement() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF COALESCE(current_setting('rowsync.claim', true), '') = ''
            AND COALESCE(current_setting('rowsync.refill', true), '') = '' THEN
        PERFORM pg_notify('rowsync_events', '');
    END IF;
    RETURN NULL;
END
$$""",
    "ALTER FUNCTION rowsync_notify_worker() SET search_path = pg_catalog, pg_temp",
]
PG_UNINSTALL = [
    "ALTER FUNCTION rowsync_notify_worker() RESET search_path",
    """CREATE OR REPLACE FUNCTION rowsync_notify_worker_statement() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF COALESCE(current_setting('rowsync.claim', true), '') = '' THEN
        PERFORM pg_notify('rowsync_events', '');
    END IF;
    RETURN NULL;
END
$$""",
    "ALTER FUNCTION rowsync_notify_worker_statement() RESET search_path",
]


def _run(statements):
    def run(apps, schema_editor):
        from rowsync.backends import get_backend

        if not get_backend(schema_editor.connection).supports_notify:
            return
        for sql in statements:
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("rowsync", "0005_delivered_through"),
    ]

    operations = [
        migrations.RunPython(_run(PG_INSTALL), _run(PG_UNINSTALL), elidable=False),
    ]
