"""A savepoint notes a mapped instance's remembered row only when it changes (copy on write).

Taking a savepoint reads no mapped instance, whatever the map holds; a rollback gives
each instance mapped before the savepoint the row it had read then, through nested
savepoints released in between, and unloads the ones mapped after it.
"""

from __future__ import annotations

import pytest
from django.db import connections, transaction

from rowsync import identity
from tests.testapp.models import Category

pytestmark = pytest.mark.django_db


class Undo(Exception):
    pass


#: Django 6.1 renamed ``transaction.savepoint()`` (the old name warns).
_savepoint = getattr(transaction, "savepoint_create", transaction.savepoint)


def _journal(sid: str):
    return connections["default"].__dict__["rowsync_savepoint_journals"][sid]


def test_taking_a_savepoint_notes_nothing_and_a_change_notes_that_instance_only():
    Category.objects.bulk_create(Category(name=f"c{i}") for i in range(300))
    identity.flush()
    with transaction.atomic():
        held = list(Category.objects.order_by("pk"))  # 300 mapped, loaded instances
        sid = _savepoint()
        assert _journal(sid).entries == {}
        Category.objects.filter(pk=held[7].pk).update(name="changed")
        assert list(_journal(sid).entries) == [id(held[7])]
        transaction.savepoint_rollback(sid)
        assert held[7].name == "c7"


def test_a_change_in_a_released_inner_savepoint_is_given_back_by_the_outer_rollback(queries):
    c = Category.objects.create(name="before")
    with pytest.raises(Undo), transaction.atomic():
        with transaction.atomic():  # released: its notes pass to the outer savepoint
            Category.objects.filter(pk=c.pk).update(name="inner")
            assert Category.objects.get(pk=c.pk).name == "inner"
        raise Undo
    with queries() as q:
        assert c.name == "before"
    assert len(q) == 0


def test_an_instance_mapped_between_two_savepoints_is_unloaded_by_the_outer_rollback(queries):
    pk = Category.objects.create(name="before").pk
    identity.flush()
    with pytest.raises(Undo), transaction.atomic():
        Category.objects.filter(pk=pk).update(name="outer")
        c = Category.objects.get(pk=pk)  # mapped inside the outer savepoint
        with transaction.atomic():
            Category.objects.filter(pk=pk).update(name="inner")
            assert Category.objects.get(pk=pk) is c and c.name == "inner"
        raise Undo
    with queries() as q:
        assert c.name == "before"  # neither "outer" nor "inner": read again
    assert len(q) == 1
