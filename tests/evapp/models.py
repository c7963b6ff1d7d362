"""Test models of the events suite (capture triggers and post_delete delivery).

``DB_CASCADE``/``DB_SET_NULL`` are rowsync's database-enforced actions, so the
database-cascade tests run on Django 5.2 and 6.1 alike.
"""

from __future__ import annotations

from django.db import models
from django.db.models.expressions import RawSQL

from rowsync import DB_CASCADE, DB_SET, DB_SET_DEFAULT, DB_SET_NULL


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


# --- DB_SET / DB_SET_DEFAULT next to capture, and diamond-shaped cascades ---
# On MariaDB both rowsync's SET trigger and the capture of the rows it changes are
# BEFORE DELETE triggers of the parent, so their order matters
# (tests/events/test_mariadb_set_and_diamond.py).


class Kennel(models.Model):
    name = models.CharField(max_length=50)


class Dog(models.Model):
    """Moved to kennel 1 by the database when its kennel is deleted."""

    kennel = models.ForeignKey(Kennel, on_delete=DB_SET_DEFAULT, default=1, related_name="dogs")
    name = models.CharField(max_length=50)

    class RowsyncMeta:
        capture = True


class Depot(models.Model):
    name = models.CharField(max_length=50)


class Van(models.Model):
    """Moved to the depot named "main" by the database when its depot is deleted."""

    depot = models.ForeignKey(
        Depot,
        on_delete=DB_SET(RawSQL("(SELECT id FROM evapp_depot WHERE name = 'main')", [])),
        related_name="vans",
    )
    spare = models.ForeignKey(Depot, on_delete=DB_SET(1), null=True, related_name="spare_vans")
    name = models.CharField(max_length=50)

    class RowsyncMeta:
        capture = True


class Region(models.Model):
    name = models.CharField(max_length=50)


class Office(models.Model):
    region = models.ForeignKey(Region, on_delete=DB_CASCADE, related_name="offices")

    class RowsyncMeta:
        capture = True


class Team(models.Model):
    region = models.ForeignKey(Region, on_delete=DB_CASCADE, related_name="teams")

    class RowsyncMeta:
        capture = True


class Seat(models.Model):
    """Reachable from Region by three cascade paths (direct, via Office, via Team)."""

    region = models.ForeignKey(Region, on_delete=DB_CASCADE, related_name="seats")
    office = models.ForeignKey(Office, on_delete=DB_CASCADE, related_name="seats")
    team = models.ForeignKey(Team, on_delete=DB_CASCADE, related_name="seats")
    spare_office = models.ForeignKey(
        Office, on_delete=DB_SET_NULL, null=True, related_name="spare_seats"
    )
    name = models.CharField(max_length=50)

    class RowsyncMeta:
        capture = True


# A self-referencing cascade below the root: deleting a Forest removes its top branches,
# the database then removes their sub-branches at every depth, and their leaves.
class Forest(models.Model):
    name = models.CharField(max_length=50)


class Branch(models.Model):
    forest = models.ForeignKey(Forest, null=True, on_delete=DB_CASCADE, related_name="branches")
    parent = models.ForeignKey("self", null=True, on_delete=DB_CASCADE, related_name="children")
    name = models.CharField(max_length=50)

    class RowsyncMeta:
        capture = True


class Leaf(models.Model):
    branch = models.ForeignKey(Branch, on_delete=DB_CASCADE, related_name="leaves")
    name = models.CharField(max_length=50)

    class RowsyncMeta:
        capture = True


class NodeNote(models.Model):
    """A captured child of the self-referencing ``Node``: deleting a node removes the notes
    of its whole subtree."""

    node = models.ForeignKey(Node, on_delete=DB_CASCADE, related_name="notes")
    text = models.CharField(max_length=50)

    class RowsyncMeta:
        capture = True
