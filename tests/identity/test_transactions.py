"""Point 4: a rolled-back atomic() block or savepoint leaves nothing of itself in the map."""

from __future__ import annotations

import pytest
from django.db import transaction

from rowsync import identity
from tests.testapp.models import Category, StrongThing


class Boom(Exception):
    pass


def _rolled_back(func):
    with pytest.raises(Boom), transaction.atomic():
        func()
        raise Boom


@pytest.mark.django_db
def test_savepoint_rollback_forgets_created_objects():
    created = []
    _rolled_back(lambda: created.append(Category.objects.create(name="phantom")))
    (phantom,) = created
    assert identity.get_cached(Category, phantom.pk) is None
    with pytest.raises(Category.DoesNotExist):
        Category.objects.get(pk=phantom.pk)


@pytest.mark.django_db
def test_savepoint_rollback_forgets_values_set_inside():
    c = Category.objects.create(name="before")
    s = StrongThing.objects.create(name="before")

    def edit():
        c.name = "inside"
        c.save()
        s.name = "inside"
        s.save()

    _rolled_back(edit)
    assert Category.objects.get(pk=c.pk).name == "before"
    assert StrongThing.objects.get(pk=s.pk).name == "before"


@pytest.mark.django_db
def test_set_rollback_and_nested_savepoints():
    c = Category.objects.create(name="before")
    with transaction.atomic():
        with transaction.atomic():
            c.name = "inner"
            c.save()
            transaction.set_rollback(True)
        assert Category.objects.get(pk=c.pk).name == "before"
        kept = Category.objects.create(name="kept")
    assert Category.objects.get(pk=kept.pk).name == "kept"


@pytest.mark.django_db(transaction=True)
def test_outer_transaction_rollback():
    c = Category.objects.create(name="committed")
    created = []

    def work():
        c.name = "inside"
        c.save()
        created.append(Category.objects.create(name="phantom"))

    _rolled_back(work)
    assert Category.objects.get(pk=c.pk).name == "committed"
    with pytest.raises(Category.DoesNotExist):
        Category.objects.get(pk=created[0].pk)


@pytest.mark.django_db(transaction=True)
def test_committed_block_keeps_the_map():
    with transaction.atomic():
        c = Category.objects.create(name="c")
    assert identity.get_cached(Category, c.pk) is c


@pytest.mark.django_db
def test_a_savepoint_rollback_keeps_the_values_read_before_it(queries):
    # Each TestCase test ends with one: objects of setUpTestData must not be unloaded.
    c = Category.objects.create(name="before")
    _rolled_back(lambda: Category.objects.create(name="other"))
    with queries() as q:
        assert c.name == "before"
    assert len(q) == 0


@pytest.mark.django_db
def test_a_savepoint_rollback_unloads_values_the_block_read_or_wrote(queries):
    c = Category.objects.create(name="before")
    s = StrongThing.objects.create(name="before")

    def work():
        Category.objects.filter(pk=c.pk).update(name="inside")
        assert Category.objects.get(pk=c.pk).name == "inside"  # c read "inside"
        s.name = "inside"
        s.save()

    _rolled_back(work)
    assert (c.name, s.name) == ("before", "before")


@pytest.mark.django_db
def test_a_savepoint_rollback_keeps_unsaved_edits_made_in_it():
    c = Category.objects.create(name="before")

    def work():
        c.name = "edited"

    _rolled_back(work)
    assert c.name == "edited"


@pytest.mark.django_db
def test_a_savepoint_rollback_gives_back_the_values_a_write_in_it_expired(queries):
    c = Category.objects.create(name="before")
    _rolled_back(lambda: Category.objects.filter(pk=c.pk).update(name="inside"))
    with queries() as q:
        assert c.name == "before"
    assert len(q) == 0
