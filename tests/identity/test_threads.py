"""A row is evicted from every map of the process while other threads create maps."""

from __future__ import annotations

import threading
import weakref

import pytest

from rowsync.identity import identity_scope, scope
from tests.testapp.models import Category


class SteppedSet(weakref.WeakSet):
    """A WeakSet whose iteration pauses after its first item until another thread added one."""

    def __init__(self, items, go, added):
        super().__init__(items)
        self.go, self.added = go, added

    def __iter__(self):
        first = True
        for item in super().__iter__():
            yield item
            if first:
                first = False
                self.go.set()
                # With the set guarded, the other thread waits for the iteration: go on.
                self.added.wait(timeout=2)


@pytest.mark.django_db
def test_an_orm_delete_while_another_thread_opens_a_map(monkeypatch):
    c = Category.objects.create(name="c")
    go, added = threading.Event(), threading.Event()
    with identity_scope(), identity_scope():  # at least two live maps to iterate over
        monkeypatch.setattr(scope, "LIVE_MAPS", SteppedSet(scope.LIVE_MAPS, go, added))
        opened = []

        def open_map():
            go.wait(timeout=10)
            opened.append(scope.new_map())
            added.set()

        thread = threading.Thread(target=open_map)
        thread.start()
        try:
            Category.objects.filter(pk=c.pk).delete()
        finally:
            go.set()
            thread.join()
    assert not Category.objects.filter(pk=c.pk).exists()
    assert opened and opened[0] in scope.LIVE_MAPS
