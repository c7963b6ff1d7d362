"""Django's per-row hooks run when the identity map answers: from_db and 6.1's fetch_mode."""

from __future__ import annotations

import django
import pytest
from django.db.models import Model

from tests.testapp.models import Category

pytestmark = pytest.mark.django_db


def test_a_models_own_from_db_runs_for_every_load(monkeypatch):
    calls = []

    def from_db(cls, db, field_names, values, **kwargs):
        calls.append(values)
        obj = Model.from_db.__func__(cls, db, field_names, values, **kwargs)
        obj.loaded_values = dict(zip(field_names, values, strict=True))
        return obj

    monkeypatch.setattr(Category, "from_db", classmethod(from_db), raising=False)
    c = Category.objects.create(name="c")
    got = Category.objects.get(pk=c.pk)
    assert got is c and len(calls) == 1
    assert c.loaded_values["name"] == "c"
    Category.objects.get(pk=c.pk)
    assert len(calls) == 2


@pytest.mark.skipif(django.VERSION < (6, 1), reason="fetch modes are new in Django 6.1")
def test_the_querysets_fetch_mode_reaches_the_mapped_instance():
    from django.db.models import FETCH_ONE, FETCH_PEERS

    c = Category.objects.create(name="c")
    assert Category.objects.get(pk=c.pk) is c
    got = Category.objects.fetch_mode(FETCH_PEERS).get(pk=c.pk)
    assert got is c and c._state.fetch_mode is FETCH_PEERS
    list(Category.objects.fetch_mode(FETCH_ONE).filter(pk=c.pk))
    assert c._state.fetch_mode is FETCH_ONE
