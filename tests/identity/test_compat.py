"""django-idmap's documented API, under rowsync.idmap (switch by changing imports)."""

from __future__ import annotations

import pytest
from django.db import models as django_models

import rowsync
from rowsync import idmap
from rowsync.idmap import models, signals
from tests.testapp.models import Category, CompatThing, MultiThing

pytestmark = pytest.mark.django_db


def test_models_module_reexports_django():
    assert models.CharField is django_models.CharField
    assert models.ForeignKey is django_models.ForeignKey
    assert models.CASCADE is django_models.CASCADE
    assert models.IdMapModel is rowsync.IdentityModel
    assert models.IdMapManager is rowsync.IdentityManager
    assert models.IdMapModelBase is rowsync.IdentityModelBase
    assert idmap.flush is rowsync.flush


def test_compat_model_is_mapped(queries):
    t = CompatThing.objects.create(name="t")
    with queries() as q:
        assert CompatThing.objects.get(pk=t.pk) is t
    assert len(q) == 0


def test_flush_sends_signals_with_db():
    got = []

    def pre(sender, db, **kw):
        got.append(("pre", sender, db))

    def post(sender, db, **kw):
        got.append(("post", sender, db))

    signals.pre_flush.connect(pre)
    signals.post_flush.connect(post)
    try:
        idmap.flush()
        idmap.flush("other")
    finally:
        signals.pre_flush.disconnect(pre)
        signals.post_flush.disconnect(post)
    assert got == [
        ("pre", models.IdMapModel, None),
        ("post", models.IdMapModel, None),
        ("pre", models.IdMapModel, "other"),
        ("post", models.IdMapModel, "other"),
    ]


@pytest.mark.django_db(databases=["default", "other"])
def test_flush_one_database():
    a = MultiThing.objects.create(pk=1, name="a")
    b = MultiThing.objects.using("other").create(pk=1, name="b")
    idmap.flush("other")
    assert MultiThing.get_cached_instance(1, "default") is a
    assert MultiThing.objects.using("other").get(pk=1) is not b


def test_flush_cached_instance_and_cache_instance():
    c = Category.objects.create(name="c")
    Category.flush_cached_instance(c)
    assert Category.get_cached_instance(c.pk) is None
    Category.cache_instance(c)
    assert Category.objects.get(pk=c.pk) is c


def test_custom_manager_and_metaclass():
    class MyBase(models.IdMapModelBase):
        pass

    class MyManager(models.IdMapManager):
        def named(self, name):
            return self.filter(name=name)

    from django.test.utils import isolate_apps

    with isolate_apps("tests.testapp"):

        class Custom(models.IdMapModel, metaclass=MyBase):
            name = models.CharField(max_length=10)
            objects = MyManager()

            class Meta:
                app_label = "testapp"
                use_strong_refs = True

        assert Custom._rowsync_identity_meta == {"use_strong_refs": True}
        assert isinstance(Custom.objects.named("x"), models.QuerySet)
        assert rowsync.identity.options_for(Custom).strong


def test_flush_idmap_is_disconnected_as_django_idmap_documents():
    from django.core.signals import request_finished

    assert request_finished.disconnect(signals.flush_idmap) is True
    try:
        assert not any(
            getattr(r[1], "__name__", "") == "flush_idmap" for r in request_finished.receivers
        )
    finally:
        request_finished.connect(signals.flush_idmap)


@pytest.mark.django_db(databases=["default", "other"])
def test_meta_options_are_read_and_assigned_at_run_time():
    import gc

    from tests.testapp.models import CompatThing, MultiThing, StrongThing

    assert CompatThing._meta.use_strong_refs is False and CompatThing._meta.multi_db is False
    assert StrongThing._meta.use_strong_refs is True and MultiThing._meta.multi_db is True
    CompatThing._meta.use_strong_refs = True
    CompatThing._meta.multi_db = True
    try:
        pk = CompatThing.objects.create(name="a").pk
        other = CompatThing.objects.using("other").create(pk=pk, name="b")
        gc.collect()
        assert CompatThing.get_cached_instance(pk, "default").name == "a"  # held strongly
        assert CompatThing.objects.using("other").get(pk=pk) is other  # mapped per database
    finally:
        CompatThing._meta.use_strong_refs = False
        CompatThing._meta.multi_db = False
    assert CompatThing._meta.use_strong_refs is False
