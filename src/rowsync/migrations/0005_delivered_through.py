"""Per-receiver delivery modes: remember which in-process phase already ran for an event.

``delivered_through`` holds ``""``, ``"transaction"`` or ``"on_commit"``; capture triggers
never write it (it has a database default), so the frozen trigger SQL stays valid.
"""

from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("rowsync", "0004_capture_row_text"),
    ]

    operations = [
        migrations.AddField(
            model_name="deletedrow",
            name="delivered_through",
            field=models.CharField(blank=True, db_default="", default="", max_length=16),
        ),
    ]
