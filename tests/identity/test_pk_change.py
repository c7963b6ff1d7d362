"""A mapped instance whose primary key is reassigned, then saved (Django inserts a new row)."""

from __future__ import annotations

import pytest
from django.db import transaction

from tests.ormapp.models import Author

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


def test_saving_under_a_new_pk_leaves_the_old_row_to_its_own_instance(queries):
    a = Author.objects.create(name="a")
    old = a.pk
    a.pk = old + 1000
    a.save()  # no row old + 1000: Django inserts it; row `old` is still there
    assert Author.objects.get(pk=old + 1000) is a
    first = Author.objects.get(pk=old)
    assert first is not a
    assert (first.pk, first.name) == (old, "a")
    assert Author.objects.get(pk=old) is first


def test_saving_over_another_row_with_update_fields_unmaps_the_old_key():
    a = Author.objects.create(name="a")
    b = Author.objects.create(name="b")
    old = a.pk
    a.pk = b.pk
    a.name = "a on b"
    a.save(update_fields=["name"])  # an UPDATE of row b
    first = Author.objects.get(pk=old)
    assert first is not a
    assert (first.pk, first.name) == (old, "a")
    assert Author.objects.get(pk=b.pk) is b  # b keeps the row; the save expired its name
    assert b.name == "a on b"


def test_expired_fields_of_an_instance_with_a_new_pk_come_from_its_row():
    # A savepoint rollback (each TestCase test ends with one) expires clean fields; an
    # instance moved to a new pk then saved must write the values it had, as in Django.
    a = Author.objects.create(name="a")
    old = a.pk
    with pytest.raises(Boom), transaction.atomic():
        raise Boom
    a.pk = old + 1000
    a.save()
    assert Author.objects.get(pk=old + 1000) is a
    assert a.name == "a"
    assert Author.objects.filter(pk=old + 1000).values_list("name", flat=True).get() == "a"
    assert Author.objects.filter(pk=old).exists()
