"""``identity.holds_rows``: whether any map of the process holds rows of a model.

The events subsystem asks it before a delete the database cascades into mapped rows: a
capture session is needed only while some map holds such a row (see
``tests/events/test_session_need_identity.py``). A wrong "no" would leave a deleted row
mapped, so every way a map can hold a row counts.
"""

from __future__ import annotations

import gc

import pytest

import rowsync
from rowsync import identity
from tests.testapp.models import (
    Article,
    ArticleProxy,
    MultiThing,
    RegularCategory,
    SharedThing,
    StrongThing,
    SubArticle,
)

pytestmark = pytest.mark.django_db(databases=["default", "other"])


def test_a_live_instance_counts_a_freed_one_does_not():
    assert identity.holds_rows(Article, "default") is False
    a = Article.objects.create(name="a")
    assert identity.holds_rows(Article, "default") is True
    assert identity.holds_rows(ArticleProxy, "default") is True  # one table per family
    assert identity.holds_rows(Article, "other") is False  # a row of another database
    del a
    gc.collect()
    assert identity.holds_rows(Article, "default") is False


def test_unmapped_models_hold_nothing():
    RegularCategory.objects.create(name="plain")
    assert identity.holds_rows(RegularCategory, "default") is False


def test_rows_a_delete_removes_itself_are_left_out():
    a, b = Article.objects.create(name="a"), Article.objects.create(name="b")
    assert identity.holds_rows(Article, "default", {Article: [a]}) is True
    assert identity.holds_rows(Article, "default", {ArticleProxy: [a], Article: [b]}) is False


def test_mti_a_child_instance_holds_its_parent_table_row_not_the_reverse():
    parent_only = Article.objects.create(name="p")
    assert identity.holds_rows(SubArticle, "default") is False
    child = SubArticle.objects.create(name="c")
    assert identity.holds_rows(SubArticle, "default") is True
    del parent_only
    gc.collect()
    assert identity.holds_rows(Article, "default") is True  # the child's Article part
    # Django's DELETE of the parent row evicts the whole family: the child is left out.
    parent_part = Article.objects.get(pk=child.pk)
    assert identity.holds_rows(SubArticle, "default", {Article: [parent_part]}) is False


def test_a_proxy_view_alone_keeps_the_row():
    pk = Article.objects.create(name="a").pk
    rowsync.flush()
    view = ArticleProxy.objects.get(pk=pk)
    gc.collect()
    assert identity.holds_rows(Article, "default") is True
    assert identity.holds_rows(Article, "default", {Article: [view]}) is False


def test_strong_multi_db_and_shared_tables():
    StrongThing.objects.create(name="s")  # held by the map itself
    gc.collect()
    assert identity.holds_rows(StrongThing, "default") is True
    other = MultiThing.objects.using("other").create(name="m")
    assert identity.holds_rows(MultiThing, "other") is True
    assert identity.holds_rows(MultiThing, "default") is False
    shared = SharedThing.objects.create(name="sh")
    assert identity.holds_rows(SharedThing, "default") is True
    del other, shared


def test_another_contexts_map_counts():
    a = Article.objects.create(name="a")
    with rowsync.identity_scope():
        assert identity.get_cached(Article, a.pk) is None  # not in this context's map
        assert identity.holds_rows(Article, "default") is True
