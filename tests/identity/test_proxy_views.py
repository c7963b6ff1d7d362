"""A proxy view outlives the instance it was made from: the row keeps one state."""

from __future__ import annotations

import gc

import pytest

from tests.testapp.models import Article, ArticleProxy

pytestmark = pytest.mark.django_db


def test_surviving_view_is_the_row_once_its_instance_is_gone():
    pk = Article.objects.create(name="a").pk
    gc.collect()
    loaded = Article.objects.get(pk=pk)  # a fresh query: the mapped instance
    view = ArticleProxy.objects.get(pk=pk)  # the proxy's view over its state
    assert view.__dict__ is loaded.__dict__
    view.name = "edited in the view"
    del loaded
    gc.collect()
    again = list(Article.objects.filter(pk=pk))[0]  # the instance died; the view did not
    assert again.__dict__ is view.__dict__
    assert again.name == "edited in the view"  # unsaved edits kept: one state per row
    assert ArticleProxy.objects.get(pk=pk) is view
