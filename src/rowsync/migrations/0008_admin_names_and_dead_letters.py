"""The admin's names: events, and the dead letters' proxy (no table, no permissions)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("rowsync", "0007_worker_heartbeat_and_permissions"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="deletedrow",
            options={
                "permissions": [
                    ("retry_deletedrow", "Can retry, replay and requeue rowsync events"),
                    ("discard_deletedrow", "Can discard rowsync events and dead letters"),
                ],
                "verbose_name": "event",
                "verbose_name_plural": "events",
            },
        ),
        migrations.CreateModel(
            name="DeadLetter",
            fields=[],
            options={
                "verbose_name": "dead letter",
                "verbose_name_plural": "dead letters",
                "proxy": True,
                "default_permissions": (),
                "indexes": [],
                "constraints": [],
            },
            bases=("rowsync.deletedrow",),
        ),
    ]
