"""Test models of the project-wide switch (``ROWSYNC_DB_ON_DELETE = ["swapp"]``).

Every foreign key here carries a Python ``on_delete`` value; the test settings select the
app, so the database enforces them. Which children Django's Collector still collects on
an ORM delete, and which it leaves to the database cascade and the capture, is the
subject of ``tests/ondelete/test_switch_collection.py``.
"""

from __future__ import annotations

from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.db import models


class Parent(models.Model):
    """Not captured: Django's Collector deletes it and sends its signals."""

    name = models.CharField(max_length=20)


class Tag(models.Model):
    name = models.CharField(max_length=20)


class Child(models.Model):
    """Captured; its rows go with the parent's through the database cascade."""

    parent = models.ForeignKey(Parent, models.CASCADE, related_name="children")
    name = models.CharField(max_length=20)
    tags = models.ManyToManyField(Tag, related_name="children")

    class RowsyncMeta:
        capture = True


class Toy(models.Model):
    """A grandchild (not captured): its receivers keep the children collected."""

    child = models.ForeignKey(Child, models.CASCADE, related_name="toys")
    name = models.CharField(max_length=20)


class Loose(models.Model):
    """A child that is not captured: its receivers keep it collected."""

    parent = models.ForeignKey(Parent, models.CASCADE, related_name="looses")
    name = models.CharField(max_length=20)


class Labelled(models.Model):
    """Captured, but a ``SET_NULL`` relation into it is Django's work on ORM deletes."""

    parent = models.ForeignKey(Parent, models.CASCADE, related_name="labelled")
    name = models.CharField(max_length=20)

    class RowsyncMeta:
        capture = True


class Label(models.Model):
    labelled = models.ForeignKey(Labelled, models.SET_NULL, null=True, related_name="labels")

    class RowsyncMeta:
        capture = True


class Secretive(models.Model):
    """Captured without a column: its rebuilt instances would miss it."""

    parent = models.ForeignKey(Parent, models.CASCADE, related_name="secretives")
    name = models.CharField(max_length=20)
    secret = models.CharField(max_length=20, default="s")

    class RowsyncMeta:
        capture = True
        capture_exclude = ["secret"]


class Base(models.Model):
    """A multi-table inheritance parent: deleting its rows deletes ``Derived`` rows too."""

    parent = models.ForeignKey(Parent, models.CASCADE, related_name="bases")
    name = models.CharField(max_length=20)

    class RowsyncMeta:
        capture = True


class Derived(Base):
    extra = models.CharField(max_length=20)

    class RowsyncMeta:
        capture = True


class Doc(models.Model):
    """Owns a GenericRelation: only Django's Collector deletes its generic notes."""

    parent = models.ForeignKey(Parent, models.CASCADE, related_name="docs")
    name = models.CharField(max_length=20)
    notes = GenericRelation("GNote")

    class RowsyncMeta:
        capture = True


class GNote(models.Model):
    content_type = models.ForeignKey(ContentType, models.CASCADE)
    object_id = models.PositiveIntegerField()
    target = GenericForeignKey()
    text = models.CharField(max_length=20)

    class RowsyncMeta:
        capture = True
