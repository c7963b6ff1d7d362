"""Rows changed by DB_SET / DB_SET_DEFAULT, and rows reached by several cascade paths.

Written for MariaDB, where InnoDB fires no triggers for FK actions: rowsync captures from
the parent's ``BEFORE DELETE`` triggers, and its own SET/SET_DEFAULT is a ``BEFORE
DELETE`` trigger of the parent as well. The expected behaviour is the same on every
engine, so the tests run on every leg.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import connection

from rowsync.models import DeletedRow
from rowsync.ondelete import SetTargetMissing
from rowsync.schema import desired_objects, install_objects, uninstall_objects
from tests.evapp.models import Depot, Dog, Kennel, Office, Region, Seat, Team, Van
from tests.events.conftest import pending, queued

pytestmark = pytest.mark.django_db(transaction=True)

mariadb_only = pytest.mark.skipif("connection.vendor != 'mysql'", reason="MariaDB trigger order")


def raw_delete(table, pk):
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)} WHERE id = %s", [pk])


def updates(rec, model, column=None):
    """Return ``[(pk, changes)]`` (``changes[column]`` only, when given) of ``model``.

    SQLite and PostgreSQL put every FK with a SET action into ``changes``; the column an
    action changed is the one that must hold the new value on every engine.
    """
    return sorted(
        (c["pk"], c["changes"] if column is None else {column: c["changes"][column]})
        for c in rec.calls
        if c["model"] == model
    )


# --- DB_SET_DEFAULT / DB_SET ---


def test_db_set_default_sends_the_new_value(updated, deleted):
    home = Kennel.objects.create(pk=1, name="home")
    gone = Kennel.objects.create(pk=2, name="gone")
    moved = [Dog.objects.create(kennel=gone, name=f"d{i}") for i in range(2)]
    Dog.objects.create(kennel=home, name="stays")
    gone.delete()
    assert updates(updated, "Dog") == [(d.pk, {"kennel_id": home.pk}) for d in moved]
    assert all(c["instance"].kennel_id == home.pk for c in updated.calls)
    assert "Dog" not in {c["model"] for c in deleted.calls}
    assert sorted(Dog.objects.values_list("kennel_id", flat=True)) == [1, 1, 1]
    assert pending() == []


def test_db_set_expression_sends_the_new_value(updated, deleted):
    main = Depot.objects.create(name="main")
    gone = Depot.objects.create(name="gone")
    vans = [Van.objects.create(depot=gone, name=f"v{i}") for i in range(3)]
    gone.delete()
    assert updates(updated, "Van", "depot_id") == [(v.pk, {"depot_id": main.pk}) for v in vans]
    assert all(c["instance"].depot_id == main.pk for c in updated.calls)
    assert "Van" not in {c["model"] for c in deleted.calls}
    assert pending() == []


def test_db_set_constant_sends_the_new_value(updated):
    one = Depot.objects.create(pk=1, name="one")
    main = Depot.objects.create(name="main")
    gone = Depot.objects.create(name="gone")
    van = Van.objects.create(depot=main, spare=gone, name="v")
    gone.delete()
    assert updates(updated, "Van", "spare_id") == [(van.pk, {"spare_id": one.pk})]
    assert updated.calls[0]["instance"].spare_id == one.pk
    assert updated.calls[0]["instance"].depot_id == main.pk
    assert pending() == []


def test_raw_sql_delete_records_the_new_value():
    home = Kennel.objects.create(pk=1, name="home")
    gone = Kennel.objects.create(pk=2, name="gone")
    dog = Dog.objects.create(kennel=gone, name="d")
    raw_delete("evapp_kennel", gone.pk)
    (event,) = queued()
    assert (event.model_label, event.op, event.pk_text) == ("evapp.dog", "U", str(dog.pk))
    assert event.changes == {"kennel_id": home.pk}
    assert event.row["kennel_id"] == home.pk
    assert event.row["name"] == "d"


def test_refused_set_default_records_nothing(updated):
    home = Kennel.objects.create(pk=1, name="home")
    Dog.objects.create(kennel=home, name="d")
    with pytest.raises(SetTargetMissing):
        home.delete()
    assert updated.calls == []
    assert DeletedRow.objects.count() == 0


def _objects_on(table, owner):
    return [
        o
        for m in apps.get_app_config("evapp").get_models()
        for o in desired_objects(m, (connection.vendor,))
        if o.owner == owner and o.table in table
    ]


@mariadb_only
@pytest.mark.parametrize("reinstall", ["ondelete", "events", "both"])
def test_set_default_capture_does_not_depend_on_trigger_creation_order(updated, reinstall):
    """Re-creating either trigger (a later migration does) keeps the events right."""
    tables = ("evapp_kennel", "evapp_dog")
    objects = {
        "ondelete": [o for o in _objects_on(tables, "ondelete") if o.kind == "trigger"],
        "events": _objects_on(tables, "events"),
    }
    assert objects["ondelete"] and objects["events"]
    order = ["ondelete", "events"] if reinstall == "both" else [reinstall]
    for owner in order:
        uninstall_objects(connection, objects[owner])
    for owner in order:
        install_objects(connection, objects[owner])
    home = Kennel.objects.create(pk=1, name="home")
    gone = Kennel.objects.create(pk=2, name="gone")
    dog = Dog.objects.create(kennel=gone, name="d")
    gone.delete()
    assert updates(updated, "Dog") == [(dog.pk, {"kennel_id": home.pk})]
    assert pending() == []


# --- diamond-shaped cascades ---


def make_region(name):
    region = Region.objects.create(name=name)
    return region, Office.objects.create(region=region), Team.objects.create(region=region)


def test_row_reached_by_several_cascade_paths_is_recorded_once(deleted, updated):
    region, office, team = make_region("r")
    other, other_office, other_team = make_region("o")
    by_all = Seat.objects.create(region=region, office=office, team=team, name="all")
    by_office = Seat.objects.create(region=other, office=office, team=other_team, name="o")
    by_team = Seat.objects.create(region=other, office=other_office, team=team, name="t")
    nulled_and_deleted = Seat.objects.create(
        region=region, office=office, team=team, spare_office=office, name="nd"
    )
    only_nulled = Seat.objects.create(
        region=other, office=other_office, team=other_team, spare_office=office, name="n"
    )
    kept = Seat.objects.create(region=other, office=other_office, team=other_team, name="k")
    region.delete()
    gone_seats = [by_all, by_office, by_team, nulled_and_deleted]
    assert deleted.keys("Seat") == sorted(("Seat", s.pk) for s in gone_seats)
    assert deleted.keys("Office") == [("Office", office.pk)]
    assert deleted.keys("Team") == [("Team", team.pk)]
    assert updates(updated, "Seat") == [(only_nulled.pk, {"spare_office_id": None})]
    assert sorted(Seat.objects.values_list("pk", flat=True)) == [only_nulled.pk, kept.pk]
    assert pending() == []


def test_raw_sql_delete_records_each_row_once():
    region, office, team = make_region("r")
    seat = Seat.objects.create(region=region, office=office, team=team, name="s")
    raw_delete("evapp_region", region.pk)
    events = sorted((e.model_label, e.pk_text, e.op) for e in queued())
    assert events == sorted(
        [
            ("evapp.office", str(office.pk), "D"),
            ("evapp.team", str(team.pk), "D"),
            ("evapp.seat", str(seat.pk), "D"),
        ]
    )
