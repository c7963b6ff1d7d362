"""Mapped instances never take values that are not their own row's (no silent corruption)."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.core import serializers
from django.db import connection, models, transaction
from django.db.models import Prefetch

from blog.models import Article as BlogArticle
from blog.models import Blog, UserInfo
from tests.ormapp.models import Book
from tests.testapp.models import Article, Category, RegularCategory, SubArticle, Tag

pytestmark = pytest.mark.django_db(databases=["default", "other"])


def test_a_row_of_another_database_never_bleeds_into_the_mapped_instance():
    pro = Category.objects.create(name="Pro Django")
    dive = Category.objects.using("other").create(pk=pro.pk, name="Dive into Python")
    assert dive is not pro
    assert pro.name == "Pro Django" and pro._state.db == "default"
    pro.save()
    assert Category.objects.using("default").values_list("name", flat=True).get(pk=pro.pk) == (
        "Pro Django"
    )
    dive.name = "Dive into Python 3"
    Category.objects.using("other").bulk_update([dive], ["name"])
    assert pro.name == "Pro Django"


def test_deleting_a_row_of_another_database_keeps_the_mapped_instance(queries):
    pro = Category.objects.create(name="Pro Django")
    Category.objects.using("other").create(pk=pro.pk, name="Dive into Python")
    Category.objects.using("other").get(pk=pro.pk).delete()
    with queries() as q:
        assert Category.objects.get(pk=pro.pk) is pro
    assert len(q) == 0


def test_update_of_one_row_keeps_the_unsaved_edits_of_another():
    a = Category.objects.create(name="a")
    b = Category.objects.create(name="b")
    a.name = "edited"
    Category.objects.filter(pk=b.pk).update(name="B")
    assert a.name == "edited"
    assert b.name == "B"
    a.save()
    assert Category.objects.values_list("name", flat=True).get(pk=a.pk) == "edited"


def test_update_invalidates_only_the_rows_it_touched(queries):
    held = [Category.objects.create(name=f"c{i}") for i in range(50)]
    target = held[7]
    Category.objects.filter(name=target.name).update(name="changed")
    with queries() as q:
        names = [c.name for c in held]
    assert len(q) == 1  # the one row the update wrote is read again, no other
    assert names[7] == "changed"
    assert names[:7] + names[8:] == [f"c{i}" for i in range(50) if i != 7]


def test_update_of_the_edited_row_keeps_the_edit_and_its_clean_fields_follow():
    a = Article.objects.create(name="a", score=1)
    a.name = "mine"
    Article.objects.filter(pk=a.pk).update(name="theirs", score=5)
    assert a.name == "mine" and a.score == 5


def test_a_save_of_another_instance_never_survives_a_rollback_in_the_mapped_one():
    kept = Category.objects.create(name="orig")  # e.g. an object of setUpTestData
    with transaction.atomic():
        Category(pk=kept.pk, name="changed").save()
        assert kept.name == "changed"
        transaction.set_rollback(True)
    assert kept.name == "orig"
    # The rollback flushed the map: the row's next load is a new instance, with the row's value.
    assert Category.objects.get(pk=kept.pk).name == "orig"


def test_a_query_refreshes_clean_fields_with_the_database_value():
    book = Book.objects.create(title="t", price=1, publish_id=1)
    assert type(book.price) is int
    again = Book.objects.get(title="t")
    assert again is book
    assert book.price == Decimal("1.00") and type(book.price) is Decimal


def test_a_query_gives_the_date_a_date_field_holds():
    user = UserInfo.objects.create(username="u")
    blog = Blog.objects.create(title="b", site="s", theme="t", user=user)
    art = BlogArticle.objects.create(
        title="x", desc="d", blog=blog, create_time=datetime(1970, 1, 1, 12, 0)
    )
    art.desc = "unsaved"
    assert BlogArticle.objects.filter(blog=blog).get() is art
    assert type(art.create_time) is date and art.create_time == date(1970, 1, 1)
    assert art.desc == "unsaved"


def test_a_query_keeps_unsaved_edits_and_refreshes_what_another_write_changed():
    a = Article.objects.create(name="a", score=1)
    a.name = "mine"
    _raw_update(a.pk, score=9, note="n")
    assert Article.objects.filter(pk=a.pk).get() is a  # SQL: a filter() before get()
    list(Article.objects.all())
    assert (a.name, a.score, a.note) == ("mine", 9, "n")


def _raw_update(pk, **values):
    table = Article._meta.db_table
    sets = ", ".join(f"{connection.ops.quote_name(k)} = %s" for k in values)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {sets} WHERE id = %s", [*values.values(), pk])


@pytest.mark.parametrize("action", ["set_default", "set_callable"])
def test_python_set_default_and_set_reach_the_mapped_instance(monkeypatch, action):
    old, new = RegularCategory.objects.create(name="old"), RegularCategory.objects.create(name="n")
    on_delete = models.SET_DEFAULT if action == "set_default" else models.SET(lambda: new)
    field = Article._meta.get_field("category2")
    # The Collector writes these rows with UpdateQuery.update_batch, not QuerySet.update().
    monkeypatch.setattr(field.remote_field, "on_delete", on_delete)
    a = Article.objects.create(name="a", category2=old)
    other = Article.objects.create(name="other", category2=new)
    old.delete()
    again = Article.objects.get(pk=a.pk)
    assert again is a
    assert a.category2_id == (None if action == "set_default" else new.pk)
    assert other.category2_id == new.pk


def test_bulk_update_of_a_reverse_relation_raises_djangos_error():
    c = Category.objects.create(name="c")
    with pytest.raises(ValueError, match="concrete fields"):
        Category.objects.bulk_update([c], ["article"])


def test_a_prefetch_of_a_foreign_key_runs_even_when_the_relation_is_cached():
    c = Category.objects.create(name="c")
    a = Article.objects.create(name="a", category=c)
    assert a.category is c  # cached on the mapped instance
    only_other = Prefetch("category", queryset=Category.objects.filter(name="other"))
    (again,) = Article.objects.filter(pk=a.pk).prefetch_related(only_other)
    assert again is a
    assert a.category is None  # what the prefetch's queryset found: no row


def test_a_raw_save_of_an_mti_child_never_maps_unloaded_parent_fields():
    parent = Article.objects.create(name="parent", score=3)
    fixture = json.dumps(
        [{"model": "testapp.subarticle", "pk": parent.pk, "fields": {"extra": "x"}}]
    )
    for obj in serializers.deserialize("json", fixture):
        obj.save()  # what loaddata does: save_base(raw=True), parents untouched
    child = SubArticle.objects.get(pk=parent.pk)
    assert (child.name, child.score, child.extra) == ("parent", 3, "x")


def test_many_to_many_prefetch_rows_are_the_mapped_instances():
    t1, t2 = Tag.objects.create(name="t1"), Tag.objects.create(name="t2")
    a = Article.objects.create(name="a")
    b = Article.objects.create(name="b")
    a.tags.set([t1, t2])
    b.tags.set([t1])
    t1.name = "unsaved"
    arts = list(
        Article.objects.filter(pk__in=[a.pk, b.pk]).order_by("pk").prefetch_related("tags")
    )
    assert arts == [a, b]
    assert {id(t) for t in a.tags.all()} == {id(t1), id(t2)}
    assert [id(t) for t in b.tags.all()] == [id(t1)]
    assert t1.name == "unsaved"
    assert not hasattr(t1, "_prefetch_related_val_article_id")
