"""SQLite only: Django's table rebuild keeps rowsync's triggers (vendor-specific)."""

from __future__ import annotations

import pytest
from django.db import connection, models

from rowsync.schema import installed_objects

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite table rebuild"),
]


def test_rebuild_keeps_triggers_on_and_naming_the_table():
    from tests.odapp.models import Book, Chapter, Note

    before = installed_objects(connection)
    on_chapter = {n for n, t in before.items() if t == "odapp_chapter"}  # Note's cascade
    naming_chapter = {n for n in before if n.startswith("rowsync_od_odapp_chapter_")}
    assert on_chapter and naming_chapter
    field = models.IntegerField(default=0)
    field.set_attributes_from_name("pages")
    with connection.schema_editor() as editor:
        editor.add_field(Chapter, field)  # SQLite rebuilds the table for this default
        editor.remove_field(Chapter, field)
    assert installed_objects(connection) == before
    book = Book.objects.create(title="t", author_id=_author())
    chapter = Chapter.objects.create(book=book)
    Note.objects.create(chapter=chapter)
    book.author.delete()
    assert Chapter.objects.count() == 0 and Note.objects.count() == 0


def _author():
    from tests.odapp.models import Author

    return Author.objects.create(name="a").pk
