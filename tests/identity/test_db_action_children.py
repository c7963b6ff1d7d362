"""Mapped children of a deleted row that the database changes itself (``DB_*`` on_delete).

No capture here (``ROWSYNC_CAPTURE`` leaves these models out): the delete query alone
must keep the map from serving the old foreign key or a row the database deleted.
"""

from __future__ import annotations

import pytest

from tests.testapp.models import DbChild, DbGrandchild, DbMover, DbParent

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def parent() -> DbParent:
    return DbParent.objects.create(name="p")


def test_set_null_expires_the_foreign_key(parent):
    child = DbChild.objects.create(nulled=parent)
    assert child.nulled is parent
    parent.delete()
    again = DbChild.objects.get(pk=child.pk)
    assert again is child
    assert child.nulled_id is None and child.nulled is None


def test_set_default_expires_the_foreign_key():
    home = DbParent.objects.create(pk=1, name="home")  # the field's default
    away = DbParent.objects.create(pk=2, name="away")
    child = DbMover.objects.create(moved=away)
    assert child.moved is away
    away.delete()
    assert DbMover.objects.get(pk=child.pk).moved_id == 1
    assert child.moved is home


def test_an_unsaved_edit_of_the_foreign_key_is_kept(parent):
    other = DbParent.objects.create(name="o")
    child = DbChild.objects.create(nulled=parent)
    child.nulled = other
    parent.delete()
    assert child.nulled is other
    child.save()
    assert DbChild.objects.filter(pk=child.pk, nulled=other).exists()


def test_cascade_evicts_children_and_grandchildren(parent):
    child = DbChild.objects.create(owner=parent)
    grandchild = DbGrandchild.objects.create(child=child)
    parent.delete()
    with pytest.raises(DbChild.DoesNotExist):
        DbChild.objects.get(pk=child.pk)
    with pytest.raises(DbGrandchild.DoesNotExist):
        DbGrandchild.objects.get(pk=grandchild.pk)


def test_a_queryset_delete_reaches_the_children(parent):
    child = DbChild.objects.create(nulled=parent, name="n")
    survivor = DbChild.objects.create(nulled=DbParent.objects.create(name="q"))
    DbParent.objects.filter(name="p").delete()
    assert DbChild.objects.get(pk=child.pk).nulled_id is None
    assert survivor.nulled_id is not None
    assert DbChild.objects.get(pk=survivor.pk).nulled.name == "q"


def test_other_rows_keep_their_values(parent, queries):
    other = DbParent.objects.create(name="o")
    child = DbChild.objects.create(nulled=other)
    parent.delete()
    with queries() as q:
        assert child.nulled is other
    assert len(q) == 0
