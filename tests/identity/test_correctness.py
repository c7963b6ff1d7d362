"""Mapped instances never take values that are not their own row's (no silent corruption)."""

from __future__ import annotations

import pytest

from tests.testapp.models import Category

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
