"""Schema shapes for capture: hidden relations, multi-table inheritance, proxies,
self-references, diamonds, UUID and text keys, quoted, unicode and long names.

Every foreign key between captured tables has a database action (rowsync's ``DB_*``),
so raw SQL deletes cascade like ORM deletes. ``tests/events/test_schema_shapes.py`` and
``tests/events/test_schema_fuzz.py`` delete rows of these models and compare what
rowsync delivers with what disappeared.
"""

from __future__ import annotations

import uuid

from django.db import models

from rowsync import DB_CASCADE, DB_SET_NULL


# --- hidden relations (related_name="+") ---
class Owner(models.Model):
    """Not captured: its captured children are reached only through hidden relations."""

    name = models.CharField(max_length=50)


class Pet(models.Model):
    owner = models.ForeignKey(Owner, on_delete=DB_CASCADE, related_name="+")
    name = models.CharField(max_length=50)

    class RowsyncMeta:
        capture = True


class Toy(models.Model):
    """Two hidden hops below ``Owner``."""

    pet = models.ForeignKey(Pet, on_delete=DB_CASCADE, related_name="+")
    name = models.CharField(max_length=50)

    class RowsyncMeta:
        capture = True


class Collar(models.Model):
    """Nulled by the database when its pet or owner goes (hidden ``SET NULL``)."""

    pet = models.ForeignKey(Pet, null=True, on_delete=DB_SET_NULL, related_name="+")
    owner = models.ForeignKey(Owner, null=True, on_delete=DB_SET_NULL, related_name="+")
    name = models.CharField(max_length=50)

    class RowsyncMeta:
        capture = True


class Twig(models.Model):
    """A hidden self-reference."""

    parent = models.ForeignKey("self", null=True, on_delete=DB_CASCADE, related_name="+")
    name = models.CharField(max_length=50)

    class RowsyncMeta:
        capture = True


# --- multi-table inheritance ---
class Place(models.Model):
    name = models.CharField(max_length=50)
    owner = models.ForeignKey(Owner, null=True, on_delete=DB_SET_NULL, related_name="places")

    class RowsyncMeta:
        capture = True


class Restaurant(Place):
    """Captured on its own (capture is per table): deleting a place row by SQL removes it."""

    place_ptr = models.OneToOneField(
        Place, on_delete=DB_CASCADE, parent_link=True, primary_key=True, related_name="+"
    )
    chef = models.ForeignKey(Owner, null=True, on_delete=DB_SET_NULL, related_name="+")
    seats = models.IntegerField(default=0)

    class RowsyncMeta:
        capture = True


class Pizzeria(Restaurant):
    """Three tables deep."""

    restaurant_ptr = models.OneToOneField(
        Restaurant, on_delete=DB_CASCADE, parent_link=True, primary_key=True
    )
    oven = models.CharField(max_length=50, default="wood")

    class RowsyncMeta:
        capture = True


class Bar(Place):
    """Inherits ``Place.RowsyncMeta`` through Python only: not captured."""

    place_ptr = models.OneToOneField(
        Place, on_delete=DB_CASCADE, parent_link=True, primary_key=True
    )
    taps = models.IntegerField(default=0)


class Dish(models.Model):
    """Below an inheritance child."""

    restaurant = models.ForeignKey(Restaurant, on_delete=DB_CASCADE, related_name="dishes")
    name = models.CharField(max_length=50)

    class RowsyncMeta:
        capture = True


class PlaceProxy(Place):
    class Meta:
        proxy = True


class PetProxy(Pet):
    class Meta:
        proxy = True


# --- diamond ---
class Root(models.Model):
    name = models.CharField(max_length=50)


class Left(models.Model):
    root = models.ForeignKey(Root, on_delete=DB_CASCADE, related_name="lefts")

    class RowsyncMeta:
        capture = True


class Right(models.Model):
    root = models.ForeignKey(Root, on_delete=DB_CASCADE, related_name="+")

    class RowsyncMeta:
        capture = True


class Bottom(models.Model):
    left = models.ForeignKey(Left, on_delete=DB_CASCADE, related_name="bottoms")
    right = models.ForeignKey(Right, on_delete=DB_CASCADE, related_name="+")

    class RowsyncMeta:
        capture = True


# --- UUID and text keys ---
class Token(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    owner = models.ForeignKey(Owner, on_delete=DB_CASCADE, related_name="+")

    class RowsyncMeta:
        capture = True


class Code(models.Model):
    code = models.CharField(primary_key=True, max_length=20)
    token = models.ForeignKey(Token, null=True, on_delete=DB_CASCADE, related_name="codes")

    class RowsyncMeta:
        capture = True


class CodeUse(models.Model):
    code = models.ForeignKey(Code, on_delete=DB_CASCADE, related_name="+")

    class RowsyncMeta:
        capture = True


# --- quoted, unicode and long names ---
class Odd(models.Model):
    label = models.CharField(max_length=50, db_column="Étiquette Spéciale")
    owner = models.ForeignKey(Owner, on_delete=DB_CASCADE, related_name="+", db_column="Owner Réf")

    class Meta:
        db_table = "fuzz Tâble Mixed"

    class RowsyncMeta:
        capture = True


class LongName(models.Model):
    odd = models.ForeignKey(Odd, on_delete=DB_CASCADE, related_name="+")

    class Meta:
        db_table = "fuzz_" + "a_very_long_table_name_for_capture_tests_" + "x" * 14

    class RowsyncMeta:
        capture = True


# --- composite primary key (Django 5.2+): database on_delete into it, not captured ---
class Stock(models.Model):
    pk = models.CompositePrimaryKey("owner", "sku")
    owner = models.ForeignKey(Owner, on_delete=DB_CASCADE, related_name="+")
    sku = models.CharField(max_length=20)
