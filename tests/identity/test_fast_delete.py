"""Mapped models keep Django's fast delete, and deleted rows still leave every map."""

from __future__ import annotations

import pytest

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
