"""Point 1: get() is answered from the map only when that is correct."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.models import Q

from tests.testapp.models import Article, Category, MultiThing

pytestmark = pytest.mark.django_db


@pytest.fixture
def data():
    c1 = Category.objects.create(name="c1")
    c2 = Category.objects.create(name="c2")
    a1 = Article.objects.create(name="a1", category=c1)
    a2 = Article.objects.create(name="a2", category=c2)
    return c1, c2, a1, a2


def test_other_filters_are_respected(data, queries):
    c1, *_ = data
    with pytest.raises(Category.DoesNotExist):
        Category.objects.filter(name="no-such").get(pk=c1.pk)
    with queries() as q:
        assert Category.objects.filter(name="c1").get(pk=c1.pk) is c1
    assert len(q) == 0


def test_related_manager_scope(data, queries):
    c1, c2, a1, a2 = data
    with pytest.raises(Article.DoesNotExist):
        c1.article_set.get(pk=a2.pk)
    with queries() as q:
        assert c1.article_set.get(pk=a1.pk) is a1
    assert len(q) == 0


def test_join_columns_are_not_the_pk(data):
    c1, c2, a1, a2 = data
    # Article a2's id may equal category c1's id: the join must decide, not the map.
    assert Category.objects.filter(article__id=a2.pk).get() is c2
    assert Category.objects.filter(article__name="a1").get(pk=c1.pk) is c1
    with pytest.raises(Category.DoesNotExist):
        Category.objects.filter(article__name="a2").get(pk=c1.pk)


def test_exclude_and_or(data):
    c1, c2, *_ = data
    with pytest.raises(Category.DoesNotExist):
        Category.objects.exclude(pk=c1.pk).get(pk=c1.pk)
    assert Category.objects.exclude(name="zzz").get(pk=c1.pk) is c1
    assert Category.objects.filter(Q(pk=c1.pk) | Q(pk=c2.pk)).get(pk=c2.pk) is c2
    with pytest.raises(Category.MultipleObjectsReturned):
        Category.objects.get(Q(pk=c1.pk) | Q(name="c2"))
    with pytest.raises(Category.DoesNotExist):
        Category.objects.get(~Q(pk=c1.pk), pk=c1.pk)
    with pytest.raises(Category.DoesNotExist):
        Category.objects.none().get(pk=c1.pk)


@pytest.mark.django_db(databases=["default", "other"])
def test_using_another_database(data, queries):
    c1, *_ = data
    with pytest.raises(Category.DoesNotExist):
        Category.objects.using("other").get(pk=c1.pk)
    other = Category.objects.using("other").create(pk=c1.pk, name="on-other")
    got = Category.objects.using("other").get(pk=c1.pk)
    assert got.name == "on-other" and got._state.db == "other"
    assert got is not c1
    assert Category.objects.get(pk=c1.pk) is c1
    assert other is not c1


@pytest.mark.django_db(databases=["default", "other"])
def test_multi_db_keys_by_alias(queries):
    a = MultiThing.objects.create(pk=1, name="default")
    b = MultiThing.objects.using("other").create(pk=1, name="other")
    with queries() as q, queries("other") as q2:
        assert MultiThing.objects.get(pk=1) is a
        assert MultiThing.objects.using("other").get(pk=1) is b
    assert len(q) == 0 and len(q2) == 0
    assert MultiThing.get_cached_instance(1, "other") is b
    MultiThing.flush_instance_cache(db="other")
    assert MultiThing.get_cached_instance(1, "other") is None
    assert MultiThing.get_cached_instance(1, "default") is a


def test_values_and_values_list(data):
    c1, *_ = data
    assert Category.objects.values("name").get(pk=c1.pk) == {"name": "c1"}
    assert Category.objects.values().get(pk=c1.pk) == {"id": c1.pk, "name": "c1"}
    assert Category.objects.values_list("name").get(pk=c1.pk) == ("c1",)
    assert Category.objects.values_list("name", flat=True).get(pk=c1.pk) == "c1"
    row = Category.objects.values_list("id", "name", named=True).get(pk=c1.pk)
    assert row.name == "c1" and row.id == c1.pk
    assert Category.objects.values("article__name").get(pk=c1.pk) == {"article__name": "a1"}


def test_select_for_update_runs_sql_and_refreshes(data, queries):
    c1, *_ = data
    with connection.cursor() as cursor:
        cursor.execute("UPDATE testapp_category SET name = %s WHERE id = %s", ["locked", c1.pk])
    assert Category.objects.get(pk=c1.pk).name == "c1"  # default policy: loaded values kept
    with transaction.atomic(), queries() as q:
        locked = Category.objects.select_for_update().get(pk=c1.pk)
    assert locked is c1 and c1.name == "locked"
    assert len(q) == 1
    if connection.features.has_select_for_update:
        assert "FOR UPDATE" in q.sql[0]


def test_update_or_create_and_get_or_create_run_sql(data, queries):
    c1, *_ = data
    with queries() as q:
        obj, created = Category.objects.update_or_create(pk=c1.pk, defaults={"name": "new"})
    assert obj is c1 and not created and c1.name == "new"
    selects = [s for s in q.sql if s.lstrip().upper().startswith("SELECT")]
    assert selects
    if connection.features.has_select_for_update:
        assert "FOR UPDATE" in selects[0]
    with queries() as q:
        obj, created = Category.objects.get_or_create(pk=c1.pk)
    assert obj is c1 and not created
    assert len(q) == 1


def test_bad_pk_value_still_raises_like_django(data):
    with pytest.raises(ValueError):
        Category.objects.get(pk="not-a-number")


def test_conditions_given_to_get_are_respected_after_a_pk_filter(data):
    # The pk comes from filter(); the conditions of get() itself must still hold.
    c1, *_ = data
    with pytest.raises(Category.DoesNotExist):
        Category.objects.filter(pk=c1.pk).get(Q(name="no-such"))
    with pytest.raises(Category.DoesNotExist):
        Category.objects.filter(pk=c1.pk).get(name="no-such")
    with pytest.raises(Category.DoesNotExist):
        Category.objects.filter(pk=c1.pk).get(name="c1", id=c1.pk + 1000)
    assert Category.objects.filter(pk=c1.pk).get(name="c1") is c1


@pytest.mark.django_db(databases=["default", "other"])
def test_a_loaded_instance_moved_to_another_database_is_not_the_first_s_row(queries):
    # The map reads the database of an instance the loader built from the entry it
    # holds (the instance's own state): moving the instance is seen at once.
    Category.objects.create(name="c")
    (loaded,) = Category.objects.all()  # built by the loader, not by save()
    pk = loaded.pk
    loaded.save(using="other")
    with queries() as q:
        got = Category.objects.get(pk=pk)
    assert len(q) == 1 and got is not loaded and got._state.db == "default"
    with queries("other") as q2:
        assert Category.objects.using("other").get(pk=pk) is loaded
    assert len(q2) == 0
