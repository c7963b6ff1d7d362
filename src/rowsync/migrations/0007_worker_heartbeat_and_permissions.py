"""Worker heartbeats (``manage.py rowsync status``) and the rowsync admin permissions."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("rowsync", "0006_secure_notify"),
    ]

    operations = [
        migrations.CreateModel(
            name="WorkerHeartbeat",
            fields=[
                ("worker_id", models.CharField(max_length=100, primary_key=True, serialize=False)),
                ("hostname", models.CharField(blank=True, default="", max_length=255)),
                ("pid", models.IntegerField(default=0)),
                ("started_at", models.DateTimeField()),
                ("seen_at", models.DateTimeField()),
                ("state", models.CharField(blank=True, default="", max_length=16)),
                ("delivered", models.BigIntegerField(default=0)),
                ("failed", models.BigIntegerField(default=0)),
                ("dead", models.BigIntegerField(default=0)),
                ("delivered_last_minute", models.BigIntegerField(default=0)),
                ("failed_last_minute", models.BigIntegerField(default=0)),
            ],
            options={
                "db_table": "rowsync_worker_heartbeat",
            },
        ),
        migrations.AlterModelOptions(
            name="deletedrow",
            options={
                "permissions": [
                    ("retry_deletedrow", "Can retry, replay and requeue rowsync events"),
                    ("discard_deletedrow", "Can discard rowsync events and dead letters"),
                ]
            },
        ),
    ]
