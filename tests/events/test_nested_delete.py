"""A delete made by a receiver inside another delete's capture session.

Django sends ``post_delete`` for the rows it deletes itself while the outer delete's
capture session is open; a receiver that deletes captured rows there opens a second
session on top of it, and the outer one must carry on with its own claim and context.
"""

from __future__ import annotations

import pytest
from django.db.models.signals import post_delete

from rowsync.events.context import actor_context, event_context
from tests.evapp.models import Author, Book, Note, Shelf
from tests.events.conftest import pending

pytestmark = pytest.mark.django_db(transaction=True)


def test_delete_in_a_receiver_inside_a_capture_session(deleted):
    shelf = Shelf.objects.create(name="s")
    notes = [Note.objects.create(shelf=shelf, text=str(i)) for i in range(2)]
    author = Author.objects.create(name="a")
    book = Book.objects.create(author=author, title="b")
    contexts = {}

    def delete_author(sender, instance, **kwargs):
        if instance.pk == notes[0].pk:
            with actor_context(reason="inner"):
                Author.objects.filter(pk=author.pk).delete()  # the database drops the book

    def note_book(sender, instance, **kwargs):
        contexts[sender.__name__, instance.pk] = event_context()

    post_delete.connect(delete_author, sender=Note, weak=False)
    post_delete.connect(note_book, sender=Book, weak=False)
    try:
        with actor_context(user_id=7):
            shelf.delete()  # Django deletes the notes itself and signals them
    finally:
        post_delete.disconnect(delete_author, sender=Note)
        post_delete.disconnect(note_book, sender=Book)
    assert deleted.keys("Book") == [("Book", book.pk)]
    assert deleted.keys("Note") == sorted(("Note", n.pk) for n in notes)
    assert deleted.keys("Author") == [("Author", author.pk)]
    assert contexts == {("Book", book.pk): {"user_id": 7, "reason": "inner"}}
    assert pending() == []  # nothing left over for a worker
    assert not Book.objects.exists() and not Note.objects.exists()
