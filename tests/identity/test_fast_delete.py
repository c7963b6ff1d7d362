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
