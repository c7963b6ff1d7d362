"""One instance per row: loads, select_related, raw(), iterator(), SQL-free get(pk)."""

from __future__ import annotations

import pytest

import rowsync
from rowsync import identity
from tests.testapp.models import Article, Category, Note, NoteProxy, RegularCategory

pytestmark = pytest.mark.django_db


@pytest.fixture
def data():
    c1 = Category.objects.create(name="c1")
    c2 = Category.objects.create(name="c2")
    a1 = Article.objects.create(name="a1", category=c1, note="n1", score=1)
    a2 = Article.objects.create(name="a2", category=c2, note="n2", score=2)
    return c1, c2, a1, a2


def test_get_by_pk_is_the_same_instance_without_sql(data, queries):
    c1, _, a1, _ = data
    with queries() as q:
        assert Category.objects.get(pk=c1.pk) is c1
        assert Category.objects.get(id=c1.pk) is c1
        assert Category.objects.get(pk__exact=c1.pk) is c1
        assert Category.objects.get(id__exact=c1.pk) is c1
        assert Category.objects.get(pk=str(c1.pk)) is c1
        assert Category.objects.filter(pk=c1.pk).get() is c1
        assert Category.objects.all().get(pk=c1.pk) is c1
        assert a1.category is c1
    assert len(q) == 0


def test_created_instance_is_mapped(data):
    c1, *_ = data
    assert identity.get_cached(Category, c1.pk) is c1
    assert Category.get_cached_instance(c1.pk) is c1


def test_every_query_returns_the_mapped_instances(data):
    c1, c2, a1, a2 = data
    assert list(Category.objects.order_by("pk")) == [c1, c2]
    assert all(x is y for x, y in zip(Category.objects.order_by("pk"), [c1, c2], strict=True))
    arts = list(Article.objects.select_related("category").order_by("pk"))
    assert arts[0] is a1 and arts[0].category is c1
    assert arts[1] is a2 and arts[1].category is c2
    assert next(Article.objects.order_by("pk").iterator()) is a1
    assert list(Category.objects.raw("SELECT * FROM testapp_category ORDER BY id"))[0] is c1
    assert Category.objects.filter(name="c2").first() is c2


def test_loaded_after_flush_then_same_instance(data, queries):
    c1, *_ = data
    rowsync.flush()
    fresh = Category.objects.get(pk=c1.pk)
    assert fresh is not c1
    with queries() as q:
        assert Category.objects.get(pk=c1.pk) is fresh
    assert len(q) == 0


def test_unmapped_model_is_untouched(data):
    r = RegularCategory.objects.create(name="r")
    assert RegularCategory.objects.get(pk=r.pk) is not r
    assert not identity.is_mapped(RegularCategory)


def test_setting_enabled_model_is_mapped(queries):
    n = Note.objects.create(text="x")
    assert identity.is_mapped(Note) and identity.is_mapped(NoteProxy)
    assert identity.options_for(Note).source == "setting"
    with queries() as q:
        assert Note.objects.get(pk=n.pk) is n
    assert len(q) == 0
    assert list(Note.objects.all())[0] is n


def test_identity_map_verbs(data):
    c1, c2, *_ = data
    m = rowsync.current_map()
    key = m.key_of(c1)
    assert key == (Category, (c1.pk,), None)
    assert m.get(key) is c1
    other = Category(pk=c1.pk, name="dup")
    other._state.db = "default"
    with pytest.raises(identity.IdentityConflict):
        m.add(other)
    assert m.replace(other) is c1
    assert m.get(key) is other
    m.discard(key)
    assert m.get(key) is None
    m.discard(key)  # no-op
    assert c2 in list(m.instances(Category))


def test_raw_sets_the_query_columns_on_the_mapped_instances(data):
    c1, c2, a1, _ = data
    sql = (
        "SELECT c.*, COUNT(a.id) AS n FROM testapp_category c"
        " LEFT JOIN testapp_article a ON a.category_id = c.id AND a.name = %s"
        " GROUP BY c.id, c.name ORDER BY c.id"
    )
    first = list(Category.objects.raw(sql, ["a1"]))
    assert first[0] is c1 and first[1] is c2
    assert (c1.n, c2.n) == (1, 0)  # each row's own value, as Django sets it on a new instance
    again = list(Category.objects.raw(sql, ["a2"]))
    assert again[0] is c1 and (c1.n, c2.n) == (0, 1)  # the last query's values
