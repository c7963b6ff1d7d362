"""The seven behaviours, enforced by the database: ORM deletes, QuerySet deletes, raw SQL."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import ProtectedError, RestrictedError

from rowsync.ondelete import SetTargetMissing
from tests.odapp.models import (
    Album,
    Artist,
    Author,
    Book,
    Chapter,
    City,
    Episode,
    Fallback,
    Holder,
    Leaf,
    Loan,
    Node,
    Note,
    Pinned,
    Place,
    Restaurant,
    Review,
    Series,
    Song,
    Tag,
    Target,
)

pytestmark = pytest.mark.django_db(transaction=True)


def make_book(author=None, chapters=2):
    author = author or Author.objects.create(name="a")
    book = Book.objects.create(title="b", author=author)
    for _ in range(chapters):
        Chapter.objects.create(book=book)
    return book


def test_cascade_from_orm_counts_database_rows():
    book = make_book()
    other = make_book(chapters=1)
    count, per_model = book.author.delete()
    assert not Book.objects.filter(pk=book.pk).exists()
    assert Chapter.objects.filter(book_id=book.pk).count() == 0
    assert Chapter.objects.filter(book=other).count() == 1
    assert per_model == {"odapp.Author": 1, "odapp.Book": 1, "odapp.Chapter": 2}
    assert count == 4


def test_cascade_from_queryset_delete():
    make_book()
    make_book()
    count, per_model = Author.objects.all().delete()
    assert per_model["odapp.Book"] == 2 and per_model["odapp.Chapter"] == 4
    assert Book.objects.count() == 0 and Chapter.objects.count() == 0


def test_cascade_from_raw_sql(raw):
    book = make_book()
    raw("odapp_author", book.author_id)
    assert Book.objects.count() == 0 and Chapter.objects.count() == 0


def test_set_null():
    book = make_book()
    review = Review.objects.create(book=book)
    book.delete()
    review.refresh_from_db()
    assert review.book_id is None


def test_set_null_raw(raw):
    book = make_book()
    review = Review.objects.create(book=book)
    raw("odapp_book", book.pk)
    review.refresh_from_db()
    assert review.book_id is None


def test_protect_orm_names_blockers():
    book = make_book()
    loan = Loan.objects.create(book=book)
    with pytest.raises(ProtectedError) as info:
        book.delete()
    assert loan in info.value.protected_objects
    assert Book.objects.filter(pk=book.pk).exists()
    assert Chapter.objects.filter(book=book).count() == 2


def test_protect_through_a_database_cascade():
    book = make_book()
    loan = Loan.objects.create(book=book)
    with pytest.raises(ProtectedError) as info:
        Author.objects.filter(pk=book.author_id).delete()
    assert loan in info.value.protected_objects
    assert Book.objects.filter(pk=book.pk).exists()


def test_protect_inside_atomic_keeps_transaction_usable():
    book = make_book()
    Loan.objects.create(book=book)
    with transaction.atomic():
        with pytest.raises(ProtectedError):
            book.delete()
        assert Book.objects.filter(pk=book.pk).exists()


def test_protect_raw_sql_refused(raw):
    book = make_book()
    Loan.objects.create(book=book)
    with pytest.raises((IntegrityError, DatabaseError)):
        raw("odapp_book", book.pk)
    assert Book.objects.filter(pk=book.pk).exists()


def test_restrict_artist_album_song():
    artist = Artist.objects.create(name="x")
    album = Album.objects.create(artist=artist)
    song = Song.objects.create(artist=artist, album=album)
    with pytest.raises(RestrictedError) as info:
        album.delete()
    assert song in info.value.restricted_objects
    assert Album.objects.filter(pk=album.pk).exists()
    # Deleting the artist removes the song through a cascade of the same delete.
    count, per_model = artist.delete()
    assert per_model == {"odapp.Artist": 1, "odapp.Album": 1, "odapp.Song": 1}
    assert Song.objects.count() == 0 and Album.objects.count() == 0


def test_restrict_raw_sql_refused(raw):
    artist = Artist.objects.create(name="x")
    album = Album.objects.create(artist=artist)
    Song.objects.create(artist=artist, album=album)
    with pytest.raises((IntegrityError, DatabaseError)):
        raw("odapp_album", album.pk)
    assert Album.objects.filter(pk=album.pk).exists()


def test_set_default():
    fallback = Target.objects.create(pk=1, name="default")
    gone = Target.objects.create(pk=2, name="gone")
    holder = Holder.objects.create(target=gone)
    gone.delete()
    holder.refresh_from_db()
    assert holder.target_id == fallback.pk


def test_set_default_deleting_the_default_row_is_a_clear_error():
    default = Target.objects.create(pk=1, name="default")
    Holder.objects.create(target=default)
    with pytest.raises(SetTargetMissing):
        default.delete()
    assert Target.objects.filter(pk=1).exists()


def test_set_constant_and_expression(raw):
    Target.objects.create(pk=1, name="one")
    fallback = Target.objects.create(pk=5, name="fallback")
    gone = Target.objects.create(pk=7, name="gone")
    pinned = Pinned.objects.create(target=gone)
    moved = Fallback.objects.create(target=gone)
    raw("odapp_target", gone.pk)
    pinned.refresh_from_db()
    moved.refresh_from_db()
    assert pinned.target_id == 1
    assert moved.target_id == fallback.pk


def test_do_nothing_is_djangos():
    from django.db import models

    import rowsync

    assert rowsync.DB_DO_NOTHING is models.DO_NOTHING


def test_chain_database_then_python_level():
    book = make_book(chapters=1)
    chapter = book.chapters.get()
    Note.objects.create(chapter=chapter)
    count, per_model = book.author.delete()
    assert Note.objects.count() == 0
    assert per_model["odapp.Note"] == 1


def test_chain_python_then_database_level():
    author = Author.objects.create(name="a")
    series = Series.objects.create(author=author)
    Episode.objects.create(series=series)
    Episode.objects.create(series=series)
    count, per_model = author.delete()
    assert Episode.objects.count() == 0
    assert per_model["odapp.Series"] == 1 and per_model["odapp.Episode"] == 2


def test_chain_protect_below_database_cascade():
    author = Author.objects.create(name="a")
    series = Series.objects.create(author=author)
    episode = Episode.objects.create(series=series)
    leaf = Leaf.objects.create(episode=episode)
    with pytest.raises(ProtectedError) as info:
        series.delete()
    assert leaf in info.value.protected_objects
    assert Episode.objects.filter(pk=episode.pk).exists()


def test_self_referencing_cascade(raw):
    root = Node.objects.create()
    child = Node.objects.create(parent=root)
    grandchild = Node.objects.create(parent=child)
    Node.objects.create(parent=grandchild)
    keep = Node.objects.create()
    count, per_model = root.delete()
    assert list(Node.objects.values_list("pk", flat=True)) == [keep.pk]
    assert per_model == {"odapp.Node": 4}
    a = Node.objects.create()
    Node.objects.create(parent=Node.objects.create(parent=a))
    raw("odapp_node", a.pk)
    assert list(Node.objects.values_list("pk", flat=True)) == [keep.pk]


def test_mti_parent_link_and_m2m_through_promoted(raw):
    city = City.objects.create(name="c")
    Restaurant.objects.create(city=city, seats=3)
    tag = Tag.objects.create(name="t")
    book = make_book(chapters=0)
    book.tags.add(tag)
    raw("odapp_city", city.pk)
    assert Place.objects.count() == 0 and Restaurant.objects.count() == 0
    raw("odapp_author", book.author_id)
    assert Book.tags.through.objects.count() == 0
    assert Tag.objects.count() == 1


def test_loaddata_style_constraint_checks_off_bypass_the_database():
    """With constraint checks off (loaddata), the database enforces nothing: documented."""
    book = make_book(chapters=1)
    with connection.constraint_checks_disabled(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM odapp_author WHERE id = %s", [book.author_id])
    # MySQL's foreign_key_checks=0 stops FK actions (loaddata runs with it). SQLite's
    # PRAGMA foreign_keys=OFF does not stop rowsync's triggers, and PostgreSQL cannot
    # switch constraints off (Django's disable_constraint_checking is a no-op there).
    orphans = Book.objects.filter(pk=book.pk).exists()
    assert orphans == (connection.vendor == "mysql")
    if orphans:
        Chapter.objects.all().delete()
        Book.objects.all().delete()
