"""The project-wide switch with capture: which children Django's Collector still collects.

``tests/settings.py`` selects the app ``swapp`` (``ROWSYNC_DB_ON_DELETE = ["swapp"]``), so
the database cascades its foreign keys. A child the database deletes *and* rowsync
captures needs no Python-level collection: its ``post_delete`` comes from the capture.
Every condition under which Django's work is still needed keeps the collection. In every
case each deleted row gets its ``post_delete`` exactly once, and ``delete()`` returns the
counts Django's Python cascade returns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection, models, transaction
from django.db.models.deletion import Collector
from django.db.models.signals import post_delete, pre_delete
from django.test import override_settings
from django.test.utils import CaptureQueriesContext, isolate_apps

from rowsync.events import inbox
from rowsync.models import DeletedRow
from rowsync.ondelete.plan import build_plan
from tests.swapp.models import (
    Base,
    Child,
    Derived,
    Doc,
    GNote,
    Label,
    Labelled,
    Loose,
    Parent,
    Secretive,
    Tag,
    Toy,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_events() -> None:
    DeletedRow.objects.all().delete()
    inbox.clear("default")


class Calls:
    """Record ``(sender name, pk)`` of every call of a signal for some senders."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []
        self.instances: list[object] = []

    def __call__(self, sender, instance, **kwargs):
        self.calls.append((sender.__name__, instance.pk))
        self.instances.append(instance)

    def tally(self, expected: list[tuple[str, object]]) -> dict[str, int]:
        """Return expected / delivered / duplicated / lost counts against ``expected``."""
        seen = Counter(self.calls)
        wanted = set(expected)
        return {
            "expected": len(wanted),
            "delivered": sum(1 for key in wanted if seen[key]),
            "duplicated": sum(n - 1 for key, n in seen.items() if n > 1),
            "lost": sum(1 for key in wanted if not seen[key]),
            "unexpected": sum(n for key, n in seen.items() if key not in wanted),
        }


def once(expected: list[tuple[str, object]]) -> dict[str, int]:
    n = len(set(expected))
    return {"expected": n, "delivered": n, "duplicated": 0, "lost": 0, "unexpected": 0}


@contextmanager
def receiving(signal, *senders) -> Iterator[Calls]:
    calls = Calls()
    for sender in senders:
        signal.connect(calls, sender=sender, weak=False, dispatch_uid=f"switch-{sender}")
    try:
        yield calls
    finally:
        for sender in senders:
            signal.disconnect(sender=sender, dispatch_uid=f"switch-{sender}")


def collected(parent: Parent) -> set[type]:
    """Return the models a Collector collects (or fast-deletes) for ``parent``."""
    collector = Collector(using="default", origin=parent)
    collector.collect([parent])
    return set(collector.data) | {qs.model for qs in collector.fast_deletes}


def row_selects(queries: CaptureQueriesContext, table: str) -> list[str]:
    """Return the statements that read rows of ``table`` (counting queries aside)."""
    found = []
    for query in queries.captured_queries:
        sql = query["sql"]
        head = sql.lstrip().upper()
        if not head.startswith("SELECT") or "COUNT(" in head:
            continue
        if f"{table}`" in sql or f'{table}"' in sql:
            found.append(sql)
    return found


def family(children: int = 3, toys: int = 1) -> tuple[Parent, list[Child], list[Toy]]:
    parent = Parent.objects.create(name="p")
    tag = Tag.objects.create(name="t")
    kids = [Child.objects.create(parent=parent, name=f"c{i}") for i in range(children)]
    for kid in kids:
        kid.tags.add(tag)
    playthings = [
        Toy.objects.create(child=kid, name=f"toy{j}") for kid in kids for j in range(toys)
    ]
    return parent, kids, playthings


def keys(rows) -> list[tuple[str, object]]:
    return [(type(row).__name__, row.pk) for row in rows]


def test_captured_children_are_left_to_the_database_and_the_capture():
    parent, kids, playthings = family()
    with receiving(post_delete, Child) as calls:
        assert Child not in collected(parent)
        with CaptureQueriesContext(connection) as queries, transaction.atomic():
            result = parent.delete()
    assert row_selects(queries, Child._meta.db_table) == []
    assert calls.tally(keys(kids)) == once(keys(kids))
    # The counts of Django's Python cascade: children, grandchildren, m2m rows.
    assert result == (
        1 + 3 + 3 + 3,
        {"swapp.Parent": 1, "swapp.Child": 3, "swapp.Toy": 3, "swapp.Child_tags": 3},
    )
    assert not Child.objects.exists() and not Toy.objects.exists()
    assert not Child.tags.through.objects.exists() and Tag.objects.count() == 1


def test_queryset_delete_leaves_children_to_the_database_too():
    parent, kids, _ = family(children=2, toys=0)
    other, more, _ = family(children=2, toys=0)
    with receiving(post_delete, Child, Parent) as calls, transaction.atomic():
        result = Parent.objects.filter(pk__in=[parent.pk, other.pk]).delete()
    expected = keys([parent, other, *kids, *more])
    assert calls.tally(expected) == once(expected)
    assert result == (2 + 4 + 4, {"swapp.Parent": 2, "swapp.Child": 4, "swapp.Child_tags": 4})


@pytest.mark.parametrize("mode", ["transaction", "on_commit", "worker"])
def test_every_delivery_mode_delivers_each_child_once(mode, django_capture_on_commit_callbacks):
    from rowsync.events.worker import Worker

    parent, kids, _ = family(children=4, toys=0)
    with (
        override_settings(ROWSYNC_DELIVERY=mode),
        receiving(post_delete, Child) as calls,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert Child not in collected(parent)
        with transaction.atomic():
            parent.delete()
        if mode == "worker":
            assert calls.calls == []
            Worker(using="default").run(drain=True)
    assert calls.tally(keys(kids)) == once(keys(kids))


def test_children_without_receivers_are_left_to_the_database():
    parent, _, _ = family(children=2, toys=2)
    assert Child not in collected(parent)
    with transaction.atomic():
        result = parent.delete()
    assert result == (
        1 + 2 + 4 + 2,
        {"swapp.Parent": 1, "swapp.Child": 2, "swapp.Toy": 4, "swapp.Child_tags": 2},
    )
    assert not Child.objects.exists() and not Toy.objects.exists()


# --- what keeps the collection ------------------------------------------------------


def test_a_pre_delete_receiver_keeps_the_children_collected():
    parent, kids, _ = family(children=3, toys=0)
    with receiving(pre_delete, Child) as before, receiving(post_delete, Child) as after:
        assert Child in collected(parent)
        with transaction.atomic():
            parent.delete()
    assert before.tally(keys(kids)) == once(keys(kids))
    assert after.tally(keys(kids)) == once(keys(kids))


def test_a_receiver_of_an_uncaptured_grandchild_keeps_the_children_collected():
    parent, kids, playthings = family(children=2, toys=2)
    with receiving(post_delete, Child, Toy) as calls:
        assert {Child, Toy} <= collected(parent)
        with transaction.atomic():
            result = parent.delete()
    expected = keys([*kids, *playthings])
    assert calls.tally(expected) == once(expected)
    assert result[1]["swapp.Toy"] == 4 and result[1]["swapp.Child"] == 2


def test_an_uncaptured_child_with_a_receiver_stays_collected():
    parent = Parent.objects.create(name="p")
    looses = [Loose.objects.create(parent=parent, name=f"l{i}") for i in range(3)]
    with receiving(post_delete, Loose) as calls:
        assert Loose in collected(parent)
        with transaction.atomic():
            parent.delete()
    assert calls.tally(keys(looses)) == once(keys(looses))


def test_a_python_level_relation_into_the_child_keeps_it_collected():
    parent = Parent.objects.create(name="p")
    rows = [Labelled.objects.create(parent=parent, name=f"x{i}") for i in range(2)]
    labels = [Label.objects.create(labelled=row) for row in rows]
    with receiving(post_delete, Labelled, Label) as calls:
        assert Labelled in collected(parent)
        with transaction.atomic():
            parent.delete()
    assert calls.tally(keys(rows)) == once(keys(rows))
    assert [label.labelled_id for label in Label.objects.order_by("pk")] == [None, None]
    assert len(labels) == Label.objects.count()


def test_a_child_whose_row_image_lacks_a_column_stays_collected():
    parent = Parent.objects.create(name="p")
    rows = [Secretive.objects.create(parent=parent, name=f"s{i}") for i in range(2)]
    with receiving(post_delete, Secretive) as calls:
        assert Secretive in collected(parent)
        with transaction.atomic():
            parent.delete()
    assert calls.tally(keys(rows)) == once(keys(rows))
    # Django's instance, with every column (a rebuilt one would defer "secret").
    assert [obj.secret for obj in calls.instances] == ["s", "s"]


def test_multi_table_inheritance_keeps_the_collection():
    parent = Parent.objects.create(name="p")
    plain = Base.objects.create(parent=parent, name="b")
    derived = Derived.objects.create(parent=parent, name="d", extra="e")
    with receiving(post_delete, Base, Derived) as calls:
        assert {Base, Derived} <= collected(parent)
        with transaction.atomic():
            result = parent.delete()
    expected = [("Base", plain.pk), ("Base", derived.pk), ("Derived", derived.pk)]
    assert calls.tally(expected) == once(expected)
    assert result[1]["swapp.Base"] == 2 and result[1]["swapp.Derived"] == 1


def test_a_generic_relation_keeps_the_collection():
    parent = Parent.objects.create(name="p")
    doc = Doc.objects.create(parent=parent, name="d")
    notes = [GNote.objects.create(target=doc, text=f"n{i}") for i in range(2)]
    with receiving(post_delete, Doc, GNote) as calls:
        assert Doc in collected(parent)
        with transaction.atomic():
            parent.delete()
    expected = keys([doc, *notes])
    assert calls.tally(expected) == once(expected)
    assert not GNote.objects.exists()


def test_counting_switched_off_keeps_the_collection_and_django_s_counts():
    parent, kids, _ = family(children=2, toys=1)
    with (
        override_settings(ROWSYNC_DB_ON_DELETE_COUNTS=False),
        receiving(post_delete, Child) as calls,
    ):
        assert Child in collected(parent)
        with transaction.atomic():
            result = parent.delete()
    assert calls.tally(keys(kids)) == once(keys(kids))
    assert result[1] == {
        "swapp.Parent": 1,
        "swapp.Child": 2,
        "swapp.Toy": 2,
        "swapp.Child_tags": 2,
    }


def test_listing_collectors_still_see_every_child():
    from rowsync.ondelete.deletion import explain_collector

    parent, kids, _ = family(children=2, toys=0)
    with receiving(post_delete, Child):
        collector = explain_collector("default", parent)
        collector.collect([parent])
    assert sorted(obj.pk for obj in collector.data[Child]) == sorted(k.pk for k in kids)


def test_explain_says_which_relations_the_collector_still_loads():
    from rowsync.explain import explain

    parent, _, _ = family(children=2, toys=1)
    Loose.objects.create(parent=parent, name="l")

    def steps():
        graph = explain(Parent, parent.pk, "default")
        return {s["relation"]: (s["actor"], s["collected"]) for s in graph["steps"]}

    with receiving(post_delete, Child, Loose):
        found = steps()
    assert found["swapp.Child.parent"] == ("database", False)
    assert found["swapp.Toy.child"] == ("database", False)  # below a relation left alone
    assert found["swapp.Loose.parent"] == ("database", True)  # not captured
    with receiving(pre_delete, Child):
        found = steps()
    assert found["swapp.Child.parent"] == ("database", True)
    # The Collector loads the children, but leaves their toys (no receiver) to the database.
    assert found["swapp.Toy.child"] == ("database", False)


@isolate_apps("tests.odapp")
def test_the_plan_names_the_cascades_the_database_can_take_whole():
    class Shop(models.Model):
        __module__ = "tests.odapp.models"

    class Order(models.Model):
        __module__ = "tests.odapp.models"
        shop = models.ForeignKey(Shop, models.CASCADE)

    class Line(models.Model):
        __module__ = "tests.odapp.models"
        order = models.ForeignKey(Order, models.CASCADE)
        parent = models.ForeignKey("self", models.CASCADE, null=True)

    class Audit(models.Model):
        __module__ = "tests.odapp.models"
        line = models.ForeignKey(Line, models.DO_NOTHING)

    class Invoice(models.Model):
        __module__ = "tests.odapp.models"
        shop = models.ForeignKey(Shop, models.CASCADE)

    class Reminder(models.Model):
        __module__ = "tests.odapp.models"
        invoice = models.ForeignKey(Invoice, models.SET_NULL, null=True)

    class Venue(models.Model):
        __module__ = "tests.odapp.models"
        shop = models.ForeignKey(Shop, models.CASCADE)

    class Stage(Venue):
        __module__ = "tests.odapp.models"

    plan = build_plan(Shop._meta.apps, "__all__")
    field = Order._meta.get_field("shop")
    assert plan.cascade_subtree(field) == {Order, Line}
    assert plan.cascade_subtree(Line._meta.get_field("parent")) == {Line}
    # SET_NULL into the invoices is Django's work on ORM deletes.
    assert plan.cascade_subtree(Invoice._meta.get_field("shop")) is None
    # Venue is an MTI parent: Django deletes the Stage half of its rows.
    assert plan.cascade_subtree(Venue._meta.get_field("shop")) is None
    # Not a CASCADE: nothing to leave to the database.
    assert plan.cascade_subtree(Reminder._meta.get_field("invoice")) is None
    assert plan.cascade_subtree(Audit._meta.get_field("line")) is None
