"""Worker support: the claim index, and a NOTIFY for events nobody is delivering (PostgreSQL).

The SQL is frozen here on purpose: later versions of rowsync must not change what this
migration installed.
"""

from django.db import migrations, models

# Wake idle workers when events arrive or are handed over to them (claimed_by cleared).
# Statement-level triggers: one call per INSERT/UPDATE statement, whatever the number of
# rows (a row-level trigger cost 80% more on a 100,000-row insert, a statement trigger 1.5%).
# PostgreSQL sends a NOTIFY only when the transaction commits, drops it on rollback, and
# folds identical notifications of one transaction into one
# (https://www.postgresql.org/docs/current/sql-notify.html). Events that in-process
# delivery handles itself wake a worker for nothing; it finds nothing due and waits again.
PG_INSTALL = [
    """CREATE OR REPLACE FUNCTION rowsync_notify_worker() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('rowsync_events', '');
    RETURN NULL;
END
$$""",
    """CREATE TRIGGER rowsync_notify_worker_insert AFTER INSERT ON rowsync_deleted_row
FOR EACH STATEMENT EXECUTE FUNCTION rowsync_notify_worker()""",
    """CREATE TRIGGER rowsync_notify_worker_release AFTER UPDATE OF claimed_by ON rowsync_deleted_row
FOR EACH STATEMENT EXECUTE FUNCTION rowsync_notify_worker()""",
]
PG_UNINSTALL = [
    "DROP TRIGGER IF EXISTS rowsync_notify_worker_release ON rowsync_deleted_row",
    "DROP TRIGGER IF EXISTS rowsync_notify_worker_insert ON rowsync_deleted_row",
    "DROP FUNCTION IF EXISTS rowsync_notify_worker()",
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
        ("rowsync", "0002_capture_defaults_and_session"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="deletedrow", name="rowsync_dr_pending"),
        migrations.AddIndex(
            model_name="deletedrow",
            index=models.Index(fields=["status", "id"], name="rowsync_dr_queue"),
        ),
        migrations.RunPython(_run(PG_INSTALL), _run(PG_UNINSTALL), elidable=False),
    ]
