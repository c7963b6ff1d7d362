"""``Model.objects.get(pk=...)`` answered before a QuerySet is built: only when correct.

The manager-level shortcut must give exactly what ``manager.get_queryset().get(...)``
gives: custom managers, QuerySet subclasses, ``db_manager()`` and routers decide.
"""

from __future__ import annotations

import pytest
from django.db import models
from django.test import override_settings

from tests.testapp.models import Article, ArticleProxy, Category

pytestmark = pytest.mark.django_db


def bind(manager: models.Manager, model: type[models.Model]) -> models.Manager:
    """Attach an unregistered manager instance to ``model`` (no migration needed)."""
    manager.model = model
    manager.name = "test_manager"
    return manager


@pytest.fixture
def cats():
    return Category.objects.create(name="c1"), Category.objects.create(name="c2")


def test_plain_manager_hit_runs_no_sql(cats, queries):
    c1, c2 = cats
    with queries() as q:
        assert Category.objects.get(pk=c1.pk) is c1
        assert Category.objects.get(id=c2.pk) is c2
        assert Category.objects.get(pk=str(c1.pk)) is c1
    assert len(q) == 0


def test_filtering_manager_is_respected(cats):
    c1, c2 = cats

    class OnlyC1(models.Manager):
        def get_queryset(self):
            return super().get_queryset().filter(name="c1")

    mgr = bind(OnlyC1(), Category)
    assert mgr.get(pk=c1.pk) is c1
    with pytest.raises(Category.DoesNotExist):
        mgr.get(pk=c2.pk)


def test_queryset_subclass_get_is_called(cats):
    c1, _ = cats
    calls = []

    class Logged(models.QuerySet):
        def get(self, *args, **kwargs):
            calls.append(kwargs)
            return super().get(*args, **kwargs)

    mgr = bind(models.Manager.from_queryset(Logged)(), Category)
    assert mgr.get(pk=c1.pk) is c1
    assert calls == [{"pk": c1.pk}]


def test_queryset_subclass_init_filter_is_respected(cats):
    c1, c2 = cats

    class OnlyC2(models.QuerySet):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.query.add_q(models.Q(name="c2"))

    mgr = bind(models.Manager.from_queryset(OnlyC2)(), Category)
    assert mgr.get(pk=c2.pk) is c2
    with pytest.raises(Category.DoesNotExist):
        mgr.get(pk=c1.pk)


@pytest.mark.django_db(databases=["default", "other"])
def test_db_manager_reads_its_database(cats):
    c1, _ = cats
    with pytest.raises(Category.DoesNotExist):
        Category.objects.db_manager("other").get(pk=c1.pk)
    assert Category.objects.db_manager("default").get(pk=c1.pk) is c1


class ReadFromOther:
    def db_for_read(self, model, **hints):
        return "other"


@pytest.mark.django_db(databases=["default", "other"])
def test_router_decides_the_database(cats):
    c1, _ = cats
    with (
        override_settings(DATABASE_ROUTERS=[ReadFromOther()]),
        pytest.raises(Category.DoesNotExist),
    ):
        Category.objects.get(pk=c1.pk)
    assert Category.objects.get(pk=c1.pk) is c1


def test_proxy_manager_returns_proxy_view(queries):
    a = Article.objects.create(name="a")
    with queries() as q:
        p = ArticleProxy.objects.get(pk=a.pk)
    assert len(q) == 0
    assert type(p) is ArticleProxy and p.__dict__ is a.__dict__


def test_other_lookups_fall_back(cats):
    c1, c2 = cats
    assert Category.objects.get(name="c2") is c2
    assert Category.objects.get(pk=c1.pk, name="c1") is c1
    with pytest.raises(Category.DoesNotExist):
        Category.objects.get(pk=c1.pk, name="c2")
    with pytest.raises(Category.DoesNotExist):
        Category.objects.get(pk=None)
    with pytest.raises(ValueError):
        Category.objects.get(pk="not a number")
