"""Test models of the events suite (capture triggers and post_delete delivery).

``DB_CASCADE``/``DB_SET_NULL`` are rowsync's database-enforced actions, so the
database-cascade tests run on Django 5.2 and 6.1 alike.
"""

from __future__ import annotations

from django.db import models

from rowsync import DB_CASCADE, DB_SET_NULL


class Author(models.Model):
    name = models.CharField(max_length=50)

    class RowsyncMeta:
        capture = True


class Book(models.Model):
    author = models.ForeignKey(Author, on_delete=DB_CASCADE, related_name="books")
    title = models.CharField(max_length=50)
    price = models.DecimalField(max_digits=8, decimal_places=2, default=0)
    published = models.DateTimeField(null=True)
    data = models.JSONField(null=True)
    blob = models.BinaryField(null=True)
    in_print = models.BooleanField(default=True)
    attachment = models.FileField(upload_to="evapp/", blank=True)
    secret = models.CharField(max_length=50, default="")

    class RowsyncMeta:
        capture = True
        capture_exclude = ["secret"]


class Chapter(models.Model):
    book = models.ForeignKey(Book, on_delete=DB_CASCADE, related_name="chapters")
    title = models.CharField(max_length=50)

    class RowsyncMeta:
        capture = True


class Review(models.Model):
    author = models.ForeignKey(Author, null=True, on_delete=DB_SET_NULL, related_name="reviews")
    text = models.CharField(max_length=50)

    class RowsyncMeta:
        capture = True


class Node(models.Model):
    parent = models.ForeignKey("self", null=True, on_delete=DB_CASCADE, related_name="children")
    name = models.CharField(max_length=50)

    class RowsyncMeta:
        capture = True


class Shelf(models.Model):
    """A parent whose children Django deletes itself (Python CASCADE)."""

    name = models.CharField(max_length=50)


class Note(models.Model):
    shelf = models.ForeignKey(Shelf, on_delete=models.CASCADE, related_name="notes")
    text = models.CharField(max_length=50)

    class RowsyncMeta:
        capture = True


class Ledger(models.Model):
    name = models.CharField(max_length=50)


class Entry(models.Model):
    """Captured, delivered on commit whatever ``ROWSYNC_DELIVERY`` says."""

    ledger = models.ForeignKey(Ledger, on_delete=DB_CASCADE, related_name="entries")
    amount = models.IntegerField(default=0)

    class RowsyncMeta:
        capture = True
        delivery = "on_commit"


class Plain(models.Model):
    """Not captured."""

    name = models.CharField(max_length=50)
