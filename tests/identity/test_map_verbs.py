"""The identity map's public verbs on instances it does not (or already does) map."""

from __future__ import annotations

import pytest

import rowsync
from rowsync import identity
from rowsync.exceptions import RowsyncError
from tests.testapp.models import Category, RegularCategory

pytestmark = pytest.mark.django_db


def test_unmapped_models_are_refused_or_ignored():
    m = rowsync.current_map()
    plain = RegularCategory.objects.create(name="plain")
    with pytest.raises(RowsyncError, match="RegularCategory is not mapped"):
        m.key_of(plain)
    assert m.get((RegularCategory, (plain.pk,), None)) is None
    m.add(plain)  # nothing to map
    assert m.replace(plain) is None
    assert identity.get_cached(RegularCategory, plain.pk) is None


def test_adding_or_replacing_with_itself():
    m = rowsync.current_map()
    c = Category.objects.create(name="c")
    m.add(c)  # already its row's instance: no conflict
    assert m.replace(c) is None
    assert m.get(m.key_of(c)) is c
    assert identity.get_cached(Category, c.pk, "default") is c
    assert identity.get_cached(Category, c.pk, "other") is None
    assert repr(m) == f"<IdentityMap {len(m)} live>"


def test_discarding_a_row_drops_its_instance():
    m = rowsync.current_map()
    c = Category.objects.create(name="c")
    key = m.key_of(c)
    identity.evict(c)
    assert m.get(key) is None
    again = Category.objects.get(pk=c.pk)
    assert again is not c and m.get(key) is again


def test_django_idmap_class_methods_answer_per_database():
    c = Category.objects.create(name="c")
    assert Category.get_cached_instance(c.pk) is c
    assert Category.get_cached_instance(c.pk, "default") is c
    assert Category.get_cached_instance(c.pk, "other") is None  # another database's row
    Category.flush_cached_instance(c)
    assert Category.get_cached_instance(c.pk) is None
    Category.cache_instance(c)
    assert Category.get_cached_instance(c.pk) is c
