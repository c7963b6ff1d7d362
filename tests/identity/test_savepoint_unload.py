"""A field first read inside a rolled-back savepoint is unloaded, not kept at a dead value."""

from __future__ import annotations

import pytest
from django.db import transaction

from tests.testapp.models import Article, Category

pytestmark = pytest.mark.django_db


class Undo(Exception):
    pass


def test_field_read_after_the_savepoint_is_unloaded_by_its_rollback():
    pk = Article.objects.create(name="a", note="original").pk
    with transaction.atomic():
        a = Article.objects.only("name").get(pk=pk)
        assert "note" in a.get_deferred_fields()
        with pytest.raises(Undo), transaction.atomic():
            Article.objects.filter(pk=pk).update(note="rolled back")
            assert a.note == "rolled back"  # loaded inside the savepoint
            raise Undo
        assert "note" in a.get_deferred_fields()  # no value from the undone savepoint
        assert a.note == "original"
        assert a.name == "a"


def test_foreign_key_read_after_the_savepoint_drops_its_cached_object():
    c1 = Category.objects.create(name="c1")
    c2 = Category.objects.create(name="c2")
    pk = Article.objects.create(name="a", category=c1).pk
    with transaction.atomic():
        a = Article.objects.only("name").get(pk=pk)
        with pytest.raises(Undo), transaction.atomic():
            Article.objects.filter(pk=pk).update(category=c2)
            assert a.category is c2
            raise Undo
        assert a.category_id == c1.pk
        assert a.category.name == "c1"  # not the object cached inside the savepoint
