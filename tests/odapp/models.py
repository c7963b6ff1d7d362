"""Test models of the ondelete suite: every behaviour, chains, self references, MTI, M2M."""

from __future__ import annotations

from django.db import models
from django.db.models.expressions import RawSQL

import rowsync


class Author(models.Model):
    name = models.CharField(max_length=50)


class Tag(models.Model):
    name = models.CharField(max_length=50)


class Book(models.Model):
    title = models.CharField(max_length=50)
    author = models.ForeignKey(Author, rowsync.DB_CASCADE, related_name="books")
    # An auto-created through table: its FK to Book is promoted to the database.
    tags = models.ManyToManyField(Tag, blank=True)


class Chapter(models.Model):
    book = models.ForeignKey(Book, rowsync.DB_CASCADE, related_name="chapters")


class Review(models.Model):
    book = models.ForeignKey(Book, rowsync.DB_SET_NULL, null=True, related_name="reviews")


class Loan(models.Model):
    book = models.ForeignKey(Book, rowsync.DB_PROTECT, related_name="loans")


class Note(models.Model):
    """Python-level CASCADE below a database-level one: promoted (chain)."""

    chapter = models.ForeignKey(Chapter, models.CASCADE, related_name="notes")


class Series(models.Model):
    """Python-level CASCADE above a database-level one."""

    author = models.ForeignKey(Author, models.CASCADE, related_name="series")


class Episode(models.Model):
    series = models.ForeignKey(Series, rowsync.DB_CASCADE, related_name="episodes")


class Target(models.Model):
    name = models.CharField(max_length=50)


class Holder(models.Model):
    target = models.ForeignKey(Target, rowsync.DB_SET_DEFAULT, default=1, related_name="+")


class Pinned(models.Model):
    target = models.ForeignKey(Target, rowsync.DB_SET(1), related_name="+")


class Fallback(models.Model):
    target = models.ForeignKey(
        Target,
        rowsync.DB_SET(RawSQL("(SELECT id FROM odapp_target WHERE name = 'fallback')", [])),
        null=True,
        related_name="+",
    )


class Artist(models.Model):
    name = models.CharField(max_length=50)


class Album(models.Model):
    artist = models.ForeignKey(Artist, rowsync.DB_CASCADE)


class Song(models.Model):
    artist = models.ForeignKey(Artist, rowsync.DB_CASCADE)
    album = models.ForeignKey(Album, rowsync.DB_RESTRICT)


class Node(models.Model):
    parent = models.ForeignKey(
        "self", rowsync.DB_CASCADE, null=True, blank=True, related_name="children"
    )


class City(models.Model):
    name = models.CharField(max_length=50)


class Place(models.Model):
    city = models.ForeignKey(City, rowsync.DB_CASCADE)


class Restaurant(Place):
    """Multi-table inheritance: the parent link is promoted to a database CASCADE."""

    seats = models.IntegerField(default=0)


class Leaf(models.Model):
    """A plain Django PROTECT below a database cascade: promoted to database PROTECT."""

    episode = models.ForeignKey(Episode, models.PROTECT, null=True, related_name="leaves")
