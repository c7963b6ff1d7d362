"""Points 8 and 9: the re-fetch policy, and what the map keeps alive."""

from __future__ import annotations

import gc
import weakref

import pytest
from django.core.signals import request_finished
from django.db import close_old_connections, connection

import rowsync
from rowsync import identity
from rowsync.identity import IdentityMap
from tests.testapp.models import Article, Category, Note, StrongThing

pytestmark = pytest.mark.django_db


def _raw_rename(table: str, column: str, value: str, pk: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [value, pk])


def test_requery_keeps_identity_and_loaded_values():
    c = Category.objects.create(name="c")
    c.name = "unsaved edit"
    _raw_rename("testapp_category", "name", "changed in db", c.pk)
    assert list(Category.objects.all())[0] is c
    assert c.name == "unsaved edit"


def test_populate_existing_refreshes_loaded_values():
    c = Category.objects.create(name="c")
    _raw_rename("testapp_category", "name", "changed in db", c.pk)
    assert Category.objects.populate_existing().get(pk=c.pk) is c
    assert c.name == "changed in db"
    _raw_rename("testapp_category", "name", "again", c.pk)
    assert list(Category.objects.filter(pk=c.pk).populate_existing())[0] is c
    assert c.name == "again"
    n = Note.objects.create(text="t")
    _raw_rename("testapp_note", "text", "db", n.pk)
    assert list(rowsync.populate_existing(Note.objects.all()))[0] is n and n.text == "db"


def test_weak_references_free_everything():
    for i in range(50):
        Article.objects.create(name=f"a{i}")
    rowsync.flush()
    objs = list(Article.objects.all())
    refs = [weakref.ref(o) for o in objs]
    assert len(rowsync.current_map()) == 50
    del objs
    gc.collect()
    assert all(r() is None for r in refs)
    assert len(rowsync.current_map()) == 0


def test_iterator_with_weak_references_does_not_accumulate():
    Article.objects.bulk_create([Article(name=f"a{i}") for i in range(30)])
    rowsync.flush()
    seen = sum(1 for _ in Article.objects.iterator(chunk_size=5))
    gc.collect()
    assert seen == 30
    assert len(rowsync.current_map()) == 0


def test_strong_references_until_flush():
    s = StrongThing.objects.create(name="s")
    ref = weakref.ref(s)
    pk = s.pk
    del s
    gc.collect()
    assert ref() is not None and StrongThing.get_cached_instance(pk) is ref()
    request_finished.disconnect(close_old_connections)
    try:
        request_finished.send(sender=None)
    finally:
        request_finished.connect(close_old_connections)
    gc.collect()
    assert ref() is None


def test_strong_map_is_bounded():
    StrongThing.objects.bulk_create([StrongThing(name=f"s{i}") for i in range(20)])
    with rowsync.identity_scope(IdentityMap(max_strong=5)) as m:
        objs = list(StrongThing.objects.order_by("pk"))
        assert len(m.strong[StrongThing]) == 5
        kept = objs[-1]
        first = weakref.ref(objs[0])
        del objs
        gc.collect()
        assert first() is None
        assert StrongThing.objects.get(pk=kept.pk) is kept
        assert len(m) == 5


def test_get_cached_of_unmapped_and_evict():
    c = Category.objects.create(name="c")
    identity.evict(c)
    assert identity.get_cached(Category, c.pk) is None
    assert Category.objects.get(pk=c.pk) is not c
