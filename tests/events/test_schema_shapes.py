"""Capture on every schema shape: hidden relations, multi-table inheritance, proxies,
composite primary keys (models in ``tests/fuzzapp``).

Each test deletes rows by the ORM (delivered before ``delete()`` returns, never twice)
or by raw SQL (delivered by a worker), on every engine.
"""

from __future__ import annotations

import pytest
from django.db import connection

from rowsync.events.capture import capture_spec, is_captured
from rowsync.events.worker import Worker
from tests.events.conftest import pending
from tests.fuzzapp.models import (
    Bar,
    Collar,
    Dish,
    Owner,
    Pet,
    PetProxy,
    Pizzeria,
    Place,
    PlaceProxy,
    Restaurant,
    Toy,
    Twig,
)

pytestmark = pytest.mark.django_db(transaction=True)


def drain():
    return Worker("default", progress_interval=0, listen=False, report=lambda line: None).run(
        drain=True
    )


def raw_delete(model, pk):
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {qn(model._meta.db_table)} WHERE {qn(model._meta.pk.column)} = %s",
            [pk],
        )


def concrete_keys(rec):
    """``[(concrete model name, pk)]`` of the recorded calls of captured tables (proxies
    count as their model; Django's own signals for other models are left out)."""
    return sorted(
        (model.__name__, c["pk"])
        for c in rec.calls
        if is_captured(model := type(c["instance"])._meta.concrete_model)
    )


# --- hidden relations (related_name="+") ---


def make_owner():
    owner = Owner.objects.create(name="o")
    pets = [Pet.objects.create(owner=owner, name=f"p{i}") for i in range(2)]
    toys = [Toy.objects.create(pet=p, name=f"t{p.pk}") for p in pets]
    collar = Collar.objects.create(owner=owner, name="c")
    return owner, pets, toys, collar


def test_hidden_relations_are_walked_for_orm_deletes(deleted, updated):
    owner, pets, toys, collar = make_owner()
    pets, toys = [p.pk for p in pets], [t.pk for t in toys]
    owner.delete()
    # Delivered in the delete's transaction, not left to a worker after the lease.
    assert concrete_keys(deleted) == sorted(
        [("Pet", p) for p in pets] + [("Toy", t) for t in toys]
    )
    assert [(c["model"], c["pk"], c["changes"]["owner_id"]) for c in updated.calls] == [
        ("Collar", collar.pk, None)
    ]
    assert pending() == []


def test_hidden_relations_are_captured_for_raw_deletes(deleted, updated):
    owner, pets, toys, collar = make_owner()
    raw_delete(Owner, owner.pk)
    assert not Pet.objects.exists() and not Toy.objects.exists()
    drain()
    assert concrete_keys(deleted) == sorted(
        [("Pet", p.pk) for p in pets] + [("Toy", t.pk) for t in toys]
    )
    assert [(c["model"], c["pk"]) for c in updated.calls] == [("Collar", collar.pk)]
    assert pending() == []


def test_hidden_self_reference_subtree_is_captured(deleted):
    top = Twig.objects.create(name="top")
    mid = Twig.objects.create(parent=top, name="mid")
    low = Twig.objects.create(parent=mid, name="low")
    raw_delete(Twig, top.pk)
    drain()
    assert concrete_keys(deleted) == [("Twig", top.pk), ("Twig", mid.pk), ("Twig", low.pk)]
    assert pending() == []


# --- multi-table inheritance ---


def test_mti_child_saves_and_deletes_by_orm_once_per_table(deleted):
    pizzeria = Pizzeria.objects.create(name="p", seats=3, oven="gas")
    pizzeria.seats = 4
    pizzeria.save()
    dish = Dish.objects.create(restaurant=pizzeria, name="d")
    pk = pizzeria.pk
    pizzeria.delete()
    # Django's collector signals the child and each parent row; rowsync adds only the dish.
    assert concrete_keys(deleted) == sorted(
        [("Pizzeria", pk), ("Restaurant", pk), ("Place", pk), ("Dish", dish.pk)]
    )
    assert pending() == []


def test_mti_parent_row_deleted_by_sql_delivers_every_table(deleted):
    pizzeria = Pizzeria.objects.create(name="p", seats=3, oven="gas")
    dish = Dish.objects.create(restaurant=pizzeria, name="d")
    raw_delete(Place, pizzeria.pk)
    assert not Restaurant.objects.exists() and not Pizzeria.objects.exists()
    drain()
    assert concrete_keys(deleted) == sorted(
        [
            ("Pizzeria", pizzeria.pk),
            ("Restaurant", pizzeria.pk),
            ("Place", pizzeria.pk),
            ("Dish", dish.pk),
        ]
    )
    by_model = {c["model"]: c["instance"] for c in deleted.calls}
    pizza = by_model["Pizzeria"]
    # The child's own columns come from its row image; the inherited keys are the same row.
    assert (pizza.pk, pizza.oven, pizza.restaurant_ptr_id, pizza.place_ptr_id, pizza.id) == (
        pizzeria.pk,
        "gas",
        pizzeria.pk,
        pizzeria.pk,
        pizzeria.pk,
    )
    assert by_model["Restaurant"].seats == 3
    assert by_model["Place"].name == "p"
    assert pending() == []


def test_mti_child_row_deleted_by_sql_keeps_the_parent(deleted):
    restaurant = Restaurant.objects.create(name="r", seats=2)
    raw_delete(Restaurant, restaurant.pk)
    drain()
    assert concrete_keys(deleted) == [("Restaurant", restaurant.pk)]
    assert Place.objects.filter(pk=restaurant.pk).exists()


def test_rowsync_meta_inherited_through_python_does_not_capture_a_child_table():
    assert is_captured(Place) and is_captured(Restaurant)
    assert not is_captured(Bar)
    spec = capture_spec(Bar)
    assert spec is None or not spec.captured


def test_uncaptured_mti_child_is_not_delivered(deleted):
    bar = Bar.objects.create(name="b", taps=2)
    raw_delete(Place, bar.pk)
    drain()
    assert concrete_keys(deleted) == [("Place", bar.pk)]


# --- proxies ---


def test_proxy_delete_is_signalled_once(deleted):
    place = PlaceProxy.objects.create(name="x")
    pet = PetProxy.objects.create(owner=Owner.objects.create(name="o"), name="p")
    keys = [("Pet", pet.pk), ("Place", place.pk)]
    place.delete()
    pet.delete()
    assert concrete_keys(deleted) == keys
    assert pending() == []


def test_mti_child_payload_rebuilds_every_inherited_field():
    """A task payload (rowsync.events.handoff) holds every column: none is left deferred."""
    from rowsync.events.handoff import event_payload, instance_from_payload

    owner = Owner.objects.create(name="o")
    pizzeria = Pizzeria.objects.create(name="p", owner=owner, chef=owner, seats=3, oven="gas")
    rebuilt = instance_from_payload(event_payload(Pizzeria, pizzeria, "default"))
    assert rebuilt.get_deferred_fields() == set()
    names = [f.attname for f in Pizzeria._meta.concrete_fields]
    assert [getattr(rebuilt, n) for n in names] == [getattr(pizzeria, n) for n in names]


def test_a_proxy_reads_its_concrete_model_rowsync_meta():
    from rowsync.events.capture import model_option

    assert model_option(PlaceProxy, "capture") is True
    assert model_option(Bar, "capture") is None
