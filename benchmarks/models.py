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


# --- capture (benchmarks/delete_capture.py) ---
# Two model views of the same two tables, created by the benchmark with raw DDL whose
# foreign key has ON DELETE CASCADE: the "Py" pair lets Django's collector cascade in
# Python (it loads the children because a receiver is connected), the "Db" pair leaves
# the cascade to the database and is captured by rowsync.


class CapParentPy(models.Model):
    name = models.CharField(max_length=32)

    class Meta:
        managed = False
        db_table = "bench_cap_parent"


class CapChildPy(models.Model):
    parent = models.ForeignKey(CapParentPy, on_delete=models.CASCADE, db_constraint=False)
    name = models.CharField(max_length=32)
    amount = models.IntegerField()
    created = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "bench_cap_child"


class CapParentDb(models.Model):
    name = models.CharField(max_length=32)

    class Meta:
        managed = False
        db_table = "bench_cap_parent"


class CapChildDb(models.Model):
    parent = models.ForeignKey(CapParentDb, on_delete=models.DO_NOTHING, db_constraint=False)
    name = models.CharField(max_length=32)
    amount = models.IntegerField()
    created = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "bench_cap_child"

    class RowsyncMeta:
        capture = True


# --- the project-wide switch (benchmarks/switch.py) ---
# Two model views of the same two tables (raw DDL, ON DELETE CASCADE). The "Plain" pair is
# plain Django: no rowsync selection, no capture. ``SwitchChild`` is selected by
# ``ROWSYNC_DB_ON_DELETE = ["benchmarks.SwitchChild"]`` and captured: the database
# enforces its Python ``CASCADE`` and rowsync delivers its post_delete.


class SwitchParentPlain(models.Model):
    name = models.CharField(max_length=32)

    class Meta:
        managed = False
        db_table = "bench_sw_parent"


class SwitchChildPlain(models.Model):
    parent = models.ForeignKey(SwitchParentPlain, on_delete=models.CASCADE, db_constraint=False)
    name = models.CharField(max_length=32)
    amount = models.IntegerField()
    created = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "bench_sw_child"


class SwitchParent(models.Model):
    name = models.CharField(max_length=32)

    class Meta:
        managed = False
        db_table = "bench_sw_parent"


class SwitchChild(models.Model):
    parent = models.ForeignKey(SwitchParent, on_delete=models.CASCADE)
    name = models.CharField(max_length=32)
    amount = models.IntegerField()
    created = models.DateTimeField()

    class Meta:
        managed = False
        db_table = "bench_sw_child"

    class RowsyncMeta:
        capture = True
