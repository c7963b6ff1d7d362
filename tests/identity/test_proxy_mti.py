"""Point 7: proxies get instances of their class over one shared state; MTI stays consistent."""

from __future__ import annotations

import pytest

import rowsync
from tests.testapp.models import (
    Article,
    ArticleProxy,
    Category,
    MixinArticleProxy,
    Note,
    NoteProxy,
    SubArticle,
)

pytestmark = pytest.mark.django_db


def test_proxy_get_returns_the_proxy_class_over_the_same_state(queries):
    a = Article.objects.create(name="a")
    with queries() as q:
        p = ArticleProxy.objects.get(pk=a.pk)
    assert len(q) == 0
    assert type(p) is ArticleProxy and p.shout() == "A"
    assert p == a and p.__dict__ is a.__dict__
    a.name = "edited"
    assert p.name == "edited"
    assert ArticleProxy.objects.get(pk=a.pk) is p
    assert list(ArticleProxy.objects.all())[0] is p
    assert Article.objects.get(pk=a.pk) is a


def test_proxy_loaded_first_then_concrete():
    pk = Article.objects.create(name="a").pk
    rowsync.flush()
    p = list(ArticleProxy.objects.all())[0]
    a = Article.objects.get(pk=pk)
    assert type(a) is Article and a.__dict__ is p.__dict__


def test_mixin_first_proxy():
    a = Article.objects.create(name="a")
    m = MixinArticleProxy.objects.get(pk=a.pk)
    assert type(m) is MixinArticleProxy and m.mixed() == "mixed" and m.name == "a"


def test_proxy_state_survives_when_the_concrete_instance_dies():
    pk = Article.objects.create(name="a").pk
    rowsync.flush()
    p = ArticleProxy.objects.get(pk=pk)
    p.note = "kept"
    import gc

    gc.collect()
    a = Article.objects.get(pk=pk)
    assert a.note == "kept" and a.__dict__ is p.__dict__


def test_setting_enabled_proxy():
    n = Note.objects.create(text="n")
    p = NoteProxy.objects.get(pk=n.pk)
    assert type(p) is NoteProxy and p.__dict__ is n.__dict__


def test_mti_parent_and_child_stay_consistent():
    c = Category.objects.create(name="c")
    s = SubArticle.objects.create(name="s", extra="e", category=c)
    parent = Article.objects.get(pk=s.pk)
    assert type(parent) is Article
    assert s.article_ptr is parent
    s.name = "child-saved"
    s.save()
    assert parent.name == "child-saved"
    parent.name = "parent-saved"
    parent.save()
    assert s.name == "parent-saved"
    assert SubArticle.objects.get(pk=s.pk) is s


def test_flush_instance_cache_with_subclasses():
    s = SubArticle.objects.create(name="s")
    a = Article.objects.get(pk=s.pk)
    Article.flush_instance_cache()
    assert Article.get_cached_instance(a.pk) is None
    assert SubArticle.get_cached_instance(s.pk) is s
    Article.flush_instance_cache(flush_sub=True)
    assert SubArticle.get_cached_instance(s.pk) is None
