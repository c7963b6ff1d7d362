"""Two identical tables: one model the identity map ignores, one it maps.

Both have the shape of a typical child row (an int, a short string, an amount and a
timestamp, which SQLite must parse per row), so plain Django and the map do the same
work apart from the map itself.
"""

from __future__ import annotations

from django.db import models


class Row(models.Model):
    grp = models.IntegerField()
    name = models.CharField(max_length=32)
    amount = models.IntegerField()
    created = models.DateTimeField()

    class Meta:
        abstract = True


class PlainRow(Row):
    """Not selected by ``ROWSYNC_IDENTITY_MAP``: plain Django."""


class MappedRow(Row):
    """Selected by ``ROWSYNC_IDENTITY_MAP = ["benchmarks.MappedRow"]``."""
