"""Capture speed: the row image becomes JSON text, and workers are woken once per statement.

* ``row`` becomes plain text holding JSON (``JSONTextField``): building ``jsonb`` per
  deleted row was the largest part of a captured delete's cost on PostgreSQL, and the
  ``JSON_VALID`` check of SQLite and MariaDB cost a JSON parse per row; nothing queries
  inside the image, and the triggers only ever write valid JSON.
* PostgreSQL: the row-level ``AFTER INSERT`` trigger that notified idle workers (one
  plpgsql call per event) becomes a statement-level one that notifies once per
  statement when the inserting session delivers nothing itself (no claim set).

The SQL is frozen here on purpose: later versions of rowsync must not change what this
migration installed.
"""

from __future__ import annotations

from django.db import migrations

import rowsync.models

PG_INSTALL = [
    "DROP TRIGGER IF EXISTS rowsync_notify_worker_insert ON rowsync_deleted_row",
    """CREATE OR REPLACE FUNCTION rowsync_notify_worker_statement() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF COALESCE(current_setting('rowsync.claim', true), '') = '' THEN
        PERFORM pg_notify('rowsync_events', '');
    END IF;
    RETURN NULL;
END
$$""",
    """CREATE TRIGGER rowsync_notify_worker_insert AFTER INSERT ON rowsync_deleted_row
FOR EACH STATEMENT EXECUTE FUNCTION rowsync_notify_worker_statement()""",
]
PG_UNINSTALL = [
    "DROP TRIGGER IF EXISTS rowsync_notify_worker_insert ON rowsync_deleted_row",
    "DROP FUNCTION IF EXISTS rowsync_notify_worker_statement()",
    """CREATE TRIGGER rowsync_notify_worker_insert AFTER INSERT ON rowsync_deleted_row
FOR EACH ROW WHEN (NEW.claimed_by = '' AND NEW.status = 'P')
EXECUTE FUNCTION rowsync_notify_worker()""",
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
        ("rowsync", "0003_worker_queue_and_notify"),
    ]

    operations = [
        migrations.AlterField(
            model_name="deletedrow",
            name="row",
            field=rowsync.models.JSONTextField(null=True),
        ),
        migrations.RunPython(_run(PG_INSTALL), _run(PG_UNINSTALL), elidable=False),
    ]
