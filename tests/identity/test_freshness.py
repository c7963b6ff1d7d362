"""Point 5: no mapped instance shows a value the database does not have after bulk writes."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import F
from django.db.models.signals import post_delete, pre_delete

from rowsync import identity
from tests.testapp.models import (
    Article,
    Category,
    Note,
    PlainChild,
    PlainParent,
    RegularCategory,
    SubArticle,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def data():
    c1 = Category.objects.create(name="c1")
    c2 = Category.objects.create(name="c2")
    a1 = Article.objects.create(name="a1", category=c1, score=1)
    a2 = Article.objects.create(name="a2", category=c1, score=2)
    return c1, c2, a1, a2


def test_update_expires_the_written_fields(data, queries):
    c1, c2, a1, a2 = data
    assert a1.category is c1
    rows = Article.objects.filter(pk=a1.pk).update(score=F("score") + 10, category=c2)
    assert rows == 1
    assert Article.objects.get(pk=a1.pk) is a1  # identity kept
    assert a1.score == 11  # loaded from the database on access
    assert a1.category_id == c2.pk and a1.category is c2
    assert a2.score == 2 and a2.name == "a2"
    with queries() as q:
        list(Article.objects.all())  # the next load fills the expired fields
        assert a2.score == 2
    assert len(q) == 1


def test_bulk_update_copies_values_to_the_mapped_instance(data):
    c1, c2, a1, a2 = data
    detached = Article(pk=a1.pk, name="bulk", score=99, category=c2)
    Article.objects.bulk_update([detached], ["name", "score"])
    assert Article.objects.get(pk=a1.pk) is a1
    assert (a1.name, a1.score) == ("bulk", 99)
    a2.name = "own"
    Article.objects.bulk_update([a2], ["name"])
    assert a2.name == "own" and a2.score == 2


def test_bulk_create_maps_created_rows(data):
    objs = Category.objects.bulk_create([Category(name="x"), Category(name="y")])
    if connection.features.can_return_rows_from_bulk_insert:
        assert Category.objects.get(pk=objs[0].pk) is objs[0]
    else:
        assert objs[0].pk is None


@pytest.mark.skipif(
    not connection.features.supports_update_conflicts_with_target
    and not connection.features.supports_update_conflicts,
    reason="no upsert",
)
def test_bulk_create_upsert_expires(data):
    c1, *_ = data
    kwargs = {"update_conflicts": True, "update_fields": ["name"]}
    if connection.features.supports_update_conflicts_with_target:
        kwargs["unique_fields"] = ["id"]
    Category.objects.bulk_create([Category(pk=c1.pk, name="upserted")], **kwargs)
    assert Category.objects.get(pk=c1.pk) is c1
    assert c1.name == "upserted"


def test_save_of_another_instance_updates_the_mapped_one(data):
    c1, *_ = data
    other = Category(pk=c1.pk, name="saved elsewhere")
    other.save()
    assert Category.objects.get(pk=c1.pk) is c1 and c1.name == "saved elsewhere"
    Category.objects.filter(pk=c1.pk).update(name="z")
    partial = Category(pk=c1.pk, name="only-name")
    partial.save(update_fields=["name"])
    assert c1.name == "only-name"


def test_delete_evicts(data):
    c1, c2, a1, a2 = data
    pk = a1.pk
    a1.delete()
    assert identity.get_cached(Article, pk) is None
    with pytest.raises(Article.DoesNotExist):
        Article.objects.get(pk=pk)
    Category.objects.filter(pk=c1.pk).delete()  # cascades to a2
    assert identity.get_cached(Category, c1.pk) is None
    assert identity.get_cached(Article, a2.pk) is None
    with pytest.raises(Article.DoesNotExist):
        Article.objects.get(pk=a2.pk)


def test_no_delete_receivers_so_fast_delete_stays(queries):
    assert not post_delete.has_listeners(Article)  # mapped: evicted by the delete queries
    assert not post_delete.has_listeners(PlainChild)
    assert not pre_delete.has_listeners(PlainChild)
    parent = PlainParent.objects.create(name="p")
    PlainChild.objects.bulk_create([PlainChild(parent=parent) for _ in range(5)])
    with queries() as q:
        PlainParent.objects.filter(pk=parent.pk).delete()
    child_sql = [s for s in q.sql if "plainchild" in s.lower()]
    assert child_sql and all(s.lstrip().upper().startswith("DELETE") for s in child_sql)
    assert not PlainChild.objects.exists()


def test_set_null_by_collector_updates_mapped_instance():
    r = RegularCategory.objects.create(name="r")
    a = Article.objects.create(name="a", category2=r)
    r.delete()
    assert Article.objects.get(pk=a.pk) is a
    assert a.category2_id is None


def test_mti_update_expires_parent_and_child():
    s = SubArticle.objects.create(name="s", extra="e")
    parent = Article.objects.get(pk=s.pk)
    assert parent is not s and type(parent) is Article
    SubArticle.objects.filter(pk=s.pk).update(name="renamed")
    assert s.name == "renamed" and parent.name == "renamed"


def test_discard_row_and_update_row(data):
    c1, c2, a1, a2 = data
    identity.update_row(Article, a1.pk, "default", {"category": None, "score": 5})
    assert a1.category_id is None and a1.score == 5 and a1.category is None
    identity.discard_row(Article, a1.pk, "default")
    assert identity.get_cached(Article, a1.pk) is None
    # no-ops
    identity.discard_row(Article, 10**9, "default")
    identity.update_row(Article, 10**9, "default", {"score": 1})
    identity.discard_row(RegularCategory, 1, "default")
    identity.update_row(RegularCategory, 1, "default", {"name": "x"})


def test_discard_row_reaches_every_context_map():
    n = Note.objects.create(text="t")
    from rowsync import identity_scope

    with identity_scope():
        other = Note.objects.get(pk=n.pk)
        identity.discard_row(Note, n.pk, "default")
        assert identity.get_cached(Note, n.pk) is None
    assert identity.get_cached(Note, n.pk) is None
    assert other is not n
