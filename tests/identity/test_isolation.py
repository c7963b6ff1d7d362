"""Point 3: each thread, task, request and scope has its own map; the shared mode is opt-in."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connections

import rowsync
from rowsync import identity
from rowsync.idmap.signals import flush_idmap
from tests.testapp.models import Category, SharedThing, StrongThing


def _in_thread(func):
    result = {}

    def run():
        try:
            result["value"] = func()
        finally:
            connections.close_all()

    t = threading.Thread(target=run)
    t.start()
    t.join()
    return result["value"]


@pytest.mark.django_db(transaction=True)
def test_threads_have_their_own_maps():
    c = Category.objects.create(name="c")
    c.name = "half-edited"
    seen = _in_thread(lambda: Category.objects.get(pk=c.pk))
    assert seen is not c and seen.name == "c"
    again = _in_thread(lambda: Category.objects.get(pk=c.pk))
    assert again is not seen
    assert Category.objects.get(pk=c.pk) is c


@pytest.mark.django_db(transaction=True)
def test_asyncio_tasks_with_their_own_scopes():
    c = Category.objects.create(name="c")

    async def task():
        async with rowsync.identity_scope():
            first = await Category.objects.aget(pk=c.pk)
            second = await Category.objects.aget(pk=c.pk)
            assert first is second
            first.name = f"edited by {id(first)}"
            return first

    async def main():
        return await asyncio.gather(task(), task())

    a, b = asyncio.run(main())
    assert a is not b and a is not c and b is not c
    assert Category.objects.get(pk=c.pk).name == "c"


@pytest.mark.django_db(transaction=True)
def test_asyncio_tasks_started_without_a_map_do_not_share():
    c = Category.objects.create(name="c")
    pk = c.pk

    async def task():
        first = await Category.objects.aget(pk=pk)
        assert await Category.objects.aget(pk=pk) is first
        return first

    async def main():
        return await asyncio.gather(task(), task())

    def fresh_context():
        # asyncio.run in a new thread: the tasks start from an empty context.
        return asyncio.run(main())

    a, b = _in_thread(fresh_context)
    assert a is not b


@pytest.mark.django_db(transaction=True)
def test_async_code_sees_its_context_map():
    c = Category.objects.create(name="c")

    async def main():
        async with rowsync.identity_scope():
            x = await sync_to_async(Category.objects.get)(pk=c.pk)
            y = await Category.objects.aget(pk=c.pk)
            return x, y

    x, y = asyncio.run(main())
    assert x is y and x is not c


@pytest.fixture
def _keep_connections():
    # Django closes connections on request signals; the test client disconnects it too.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.django_db
@pytest.mark.usefixtures("_keep_connections")
def test_request_cycle_gives_and_flushes_a_map():
    before = rowsync.current_map()
    request_started.send(sender=None, environ={})
    try:
        m = rowsync.current_map()
        assert m is not before
        c = Category.objects.create(name="c")
        assert identity.get_cached(Category, c.pk) is c
    finally:
        request_finished.send(sender=None)
    assert identity.get_cached(Category, c.pk) is None
    assert len(m) == 0


@pytest.mark.django_db
@pytest.mark.usefixtures("_keep_connections")
def test_flush_idmap_can_be_disconnected():
    s = StrongThing.objects.create(name="s")
    assert request_finished.disconnect(flush_idmap)  # as django-idmap documented
    try:
        request_finished.send(sender=None)
        assert StrongThing.get_cached_instance(s.pk) is s
    finally:
        request_finished.connect(flush_idmap)
    request_finished.send(sender=None)
    assert StrongThing.get_cached_instance(s.pk) is None


@pytest.mark.django_db
def test_nested_scopes():
    c = Category.objects.create(name="c")
    with rowsync.identity_scope() as inner:
        x = Category.objects.get(pk=c.pk)
        assert x is not c
        assert rowsync.current_map() is inner
        with rowsync.identity_scope():
            assert Category.objects.get(pk=c.pk) is not x
        assert Category.objects.get(pk=c.pk) is x
    assert Category.objects.get(pk=c.pk) is c
    assert len(inner) == 0


@pytest.mark.django_db
def test_scope_as_decorator():
    c = Category.objects.create(name="c")

    @rowsync.identity_scope()
    def load():
        return Category.objects.get(pk=c.pk)

    assert load() is not c


@pytest.mark.django_db(transaction=True)
def test_shared_mode_is_process_wide():
    s = SharedThing.objects.create(name="shared")
    assert _in_thread(lambda: SharedThing.objects.get(pk=s.pk)) is s
    with rowsync.identity_scope():
        assert SharedThing.objects.get(pk=s.pk) is s
