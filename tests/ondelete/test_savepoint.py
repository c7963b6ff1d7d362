"""The on_delete step spends its SAVEPOINT only on deletes the database can refuse.

A delete whose tree holds no foreign key that can refuse it (PROTECT, RESTRICT, a SET
whose target the triggers check) runs Django's delete as Django does, without a
savepoint; one that can be refused keeps the savepoint, which turns the refusal into
Django's own error and leaves the transaction usable.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.apps import apps
from django.db import DatabaseError, connection, transaction
from django.db.models import ProtectedError, RestrictedError
from django.db.models.signals import post_delete
from django.test.utils import CaptureQueriesContext

from rowsync.backends import get_backend
from rowsync.ondelete import SetTargetMissing
from rowsync.ondelete.plan import get_plan
from rowsync.ondelete.refusal import can_be_refused
from tests.odapp.models import (
    Album,
    Artist,
    Author,
    Book,
    Chapter,
    City,
    Episode,
    Leaf,
    Loan,
    Node,
    Note,
    Pinned,
    Restaurant,
    Series,
    Song,
    Target,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _savepoints(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "SAVEPOINT" in q["sql"].upper()]


@pytest.fixture
def in_atomic() -> Iterator[CaptureQueriesContext]:
    """Capture the queries inside an open transaction (as Django's TestCase runs them)."""
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        yield queries


def _refused(*models: type) -> bool:
    deferred = get_backend(connection).fk_checks_deferred
    return can_be_refused(get_plan(apps), frozenset(models), deferred)


def test_verdicts_follow_the_database_cascades():
    # Chapter -> Note (a chain CASCADE), Node -> Node, City -> Place -> Restaurant: no refusal.
    assert not _refused(Chapter)
    assert not _refused(Node)
    assert not _refused(City)
    # Book <- Loan (DB_PROTECT); Author -DB_CASCADE-> Book: reached through the cascade.
    assert _refused(Book)
    assert _refused(Author)
    # Series -DB_CASCADE-> Episode <- Leaf (PROTECT promoted to the database).
    assert _refused(Series)
    assert not _refused(Leaf)
    # Album <- Song.album (DB_RESTRICT); Target <- DB_SET / DB_SET_DEFAULT guards.
    assert _refused(Album)
    assert _refused(Artist)
    assert _refused(Target)


def test_delete_that_cannot_be_refused_takes_no_savepoint(in_atomic):
    book = Book.objects.create(title="b", author=Author.objects.create(name="a"))
    chapter = Chapter.objects.create(book=book)
    Note.objects.create(chapter=chapter)
    count, per_model = chapter.delete()
    assert (count, per_model) == (2, {"odapp.Chapter": 1, "odapp.Note": 1})
    assert _savepoints(in_atomic) == []


def test_tree_deletes_that_cannot_be_refused_take_no_savepoint(in_atomic):
    root = Node.objects.create()
    Node.objects.create(parent=Node.objects.create(parent=root))
    city = City.objects.create(name="c")
    Restaurant.objects.create(city=city, seats=1)
    assert root.delete()[1] == {"odapp.Node": 3}
    assert City.objects.all().delete()[0] == 3
    assert Node.objects.count() == 0 and Restaurant.objects.count() == 0
    assert _savepoints(in_atomic) == []


def test_protect_keeps_the_savepoint_and_the_transaction(in_atomic):
    book = Book.objects.create(title="b", author=Author.objects.create(name="a"))
    loan = Loan.objects.create(book=book)
    with pytest.raises(ProtectedError) as info:
        book.author.delete()
    assert loan in info.value.protected_objects
    assert _savepoints(in_atomic)
    # The transaction is still usable: the refused rows are there, and more work runs.
    assert Book.objects.filter(pk=book.pk).exists()
    loan.delete()
    assert book.author.delete()[1] == {"odapp.Author": 1, "odapp.Book": 1}


def test_protect_below_a_cascade_keeps_the_savepoint(in_atomic):
    series = Series.objects.create(author=Author.objects.create(name="a"))
    Leaf.objects.create(episode=Episode.objects.create(series=series))
    with pytest.raises(ProtectedError):
        series.delete()
    assert _savepoints(in_atomic)
    assert Episode.objects.filter(series=series).exists()


def test_restrict_keeps_the_savepoint_and_the_transaction(in_atomic):
    artist = Artist.objects.create(name="x")
    album = Album.objects.create(artist=artist)
    song = Song.objects.create(artist=artist, album=album)
    with pytest.raises(RestrictedError) as info:
        album.delete()
    assert song in info.value.restricted_objects
    assert _savepoints(in_atomic)
    assert Album.objects.filter(pk=album.pk).exists()
    assert album.pk is not None
    assert artist.delete()[1] == {"odapp.Artist": 1, "odapp.Album": 1, "odapp.Song": 1}


def test_set_target_check_keeps_the_savepoint_and_the_transaction(in_atomic):
    default = Target.objects.create(pk=1, name="default")
    other = Target.objects.create(pk=2, name="other")
    pinned = Pinned.objects.create(target=default)
    with pytest.raises(SetTargetMissing):
        default.delete()
    assert _savepoints(in_atomic)
    assert Target.objects.filter(pk=1).exists()
    pinned.target = other
    pinned.save()
    other.delete()
    pinned.refresh_from_db()
    assert pinned.target_id == 1


def test_error_in_a_delete_that_cannot_be_refused_reaches_the_caller_unchanged():
    book = Book.objects.create(title="b", author=Author.objects.create(name="a"))
    chapter = Chapter.objects.create(book=book)
    pk = chapter.pk

    def broken(sender, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM rowsync_no_such_table")

    post_delete.connect(broken, sender=Chapter)
    try:
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            with pytest.raises(DatabaseError) as info:
                chapter.delete()
            # Django's own error, not replayed: without a savepoint the block must roll back.
            assert "rowsync_no_such_table" in str(info.value)
            assert connection.needs_rollback
            assert _savepoints(queries) == []
    finally:
        post_delete.disconnect(broken, sender=Chapter)
    assert chapter.pk == pk
    assert Chapter.objects.filter(pk=pk).exists()
