"""Mapped models keep Django's fast delete, and deleted rows still leave every map."""

from __future__ import annotations

import pytest

from rowsync import identity
from tests.testapp.models import Note, PlainChild, PlainParent

pytestmark = pytest.mark.django_db

ROWS = 300


def _delete_all_queries(model, queries):
    with queries() as q:
        model.objects.all().delete()
    return len(q)


def test_deleting_every_row_of_a_mapped_model_is_as_fast_as_of_an_unmapped_one(queries):
    parent = PlainParent.objects.create(name="p")
    PlainChild.objects.bulk_create([PlainChild(parent=parent) for _ in range(ROWS)])
    Note.objects.bulk_create([Note(text=f"n{i}") for i in range(ROWS)])
    held = list(Note.objects.all()[:3])
    plain = _delete_all_queries(PlainChild, queries)
    mapped = _delete_all_queries(Note, queries)
    assert mapped == plain
    for note in held:
        with pytest.raises(Note.DoesNotExist):
            Note.objects.get(pk=note.pk)


def test_a_filtered_fast_delete_evicts_only_the_rows_it_deleted(queries):
    a, b = Note.objects.create(text="a"), Note.objects.create(text="b")
    Note.objects.filter(text="a").delete()
    with pytest.raises(Note.DoesNotExist):
        Note.objects.get(pk=a.pk)
    with queries() as q:
        assert Note.objects.get(pk=b.pk) is b
    assert len(q) == 0


def test_deleting_one_mapped_instance_evicts_it():
    note = Note.objects.create(text="a")
    pk = note.pk
    note.delete()
    with pytest.raises(Note.DoesNotExist):
        Note.objects.get(pk=pk)


def test_a_cascade_leaves_the_held_instances_of_the_rows_it_deleted_their_pk():
    # Django's Collector reads the rows a cascade reaches into instances of its own and
    # sets their pk to None; the instances the program holds keep theirs (and leave the map).
    from tests.testapp.models import Article, Category

    category = Category.objects.create(name="c")
    article = Article.objects.create(name="a", category=category)  # not fast-deletable
    assert Article.objects.get(pk=article.pk) is article
    pk = article.pk
    category.delete()
    assert category.pk is None  # the instance delete() was called on, as in Django
    assert article.pk == pk
    assert identity.get_cached(Article, pk) is None
    assert not Article.objects.filter(pk=pk).exists()


def test_a_queryset_delete_leaves_the_held_instances_their_pk():
    from tests.ormapp.models import Author

    author = Author.objects.create(name="a")  # not fast-deletable: rows refer to it
    pk = author.pk
    Author.objects.filter(name="a").delete()
    assert author.pk == pk
    assert identity.get_cached(Author, pk) is None
    with pytest.raises(Author.DoesNotExist):
        Author.objects.get(pk=pk)


def _returning(connection) -> bool:
    from rowsync.backends import get_backend

    return get_backend(connection).can_return_deleted_rows


def test_deleting_2000_mapped_rows_is_one_delete(queries):
    Note.objects.bulk_create([Note(text=f"n{i}") for i in range(2000)])
    held = list(Note.objects.all())
    with queries() as q:
        deleted, _ = Note.objects.all().delete()
    assert deleted == 2000
    assert len(q) == 1
    assert q.sql[0].upper().startswith("DELETE")
    assert identity.get_cached(Note, held[0].pk) is None


def test_a_fast_delete_through_a_join_returns_its_rows_from_the_delete(queries):
    from django.db import connection

    from tests.testapp.models import RegularCategory

    keep = RegularCategory.objects.create(name="keep")
    drop = RegularCategory.objects.create(name="drop")
    gone = [Note.objects.create(text=f"g{i}", category=drop) for i in range(3)]
    kept = Note.objects.create(text="k", category=keep)
    with queries() as q:
        deleted, _ = Note.objects.filter(category__name="drop").delete()
    assert deleted == 3
    # One DELETE where the engine returns the deleted rows; MariaDB selects them first.
    assert len(q) == (1 if _returning(connection) else 2)
    for note in gone:
        assert identity.get_cached(Note, note.pk) is None
    with queries() as q:
        assert Note.objects.get(pk=kept.pk) is kept
    assert len(q) == 0


def test_a_cascade_fast_delete_through_a_foreign_key_evicts_the_rows_it_deleted(queries):
    from django.db import connection

    from tests.testapp.models import RegularCategory

    category = RegularCategory.objects.create(name="c")
    notes = [Note.objects.create(text=f"n{i}", category=category) for i in range(3)]
    other = Note.objects.create(text="o")
    with queries() as q:
        category.delete()  # Collector: fast delete of Note.objects.filter(category__in=[c])
    # The notes' DELETE (after a SELECT of their pks without RETURNING); the category's
    # own DELETE and Article.category2's SET_NULL UPDATE are Django's.
    on_notes = [sql for sql in q.sql if "testapp_note" in sql]
    assert len(on_notes) == (1 if _returning(connection) else 2), on_notes
    for note in notes:
        assert identity.get_cached(Note, note.pk) is None
        with pytest.raises(Note.DoesNotExist):
            Note.objects.get(pk=note.pk)
    assert Note.objects.get(pk=other.pk) is other


def test_a_fast_delete_that_matches_nothing_evicts_nothing(queries):
    note = Note.objects.create(text="a")
    assert Note.objects.filter(category__name="none").delete()[0] == 0
    assert Note.objects.filter(pk__in=[]).delete()[0] == 0
    assert identity.get_cached(Note, note.pk) is note


def test_without_mapped_rows_a_joined_fast_delete_is_django_s_statement(queries):
    from tests.testapp.models import RegularCategory

    category = RegularCategory.objects.create(name="c")
    Note.objects.bulk_create([Note(text="n", category=category) for _ in range(3)])
    with queries() as q:
        assert Note.objects.filter(category__name="c").delete()[0] == 3
    assert len(q) == 1
    assert "RETURNING" not in q.sql[0].upper()
