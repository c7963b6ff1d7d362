"""What the loader keeps per mapped row: the state that is also the map's weak reference."""

from __future__ import annotations

import copy
import gc
import operator
import pickle
import sys
import weakref

import pytest
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init

import rowsync
from tests.testapp.models import Article, Category, RegularCategory

pytestmark = pytest.mark.django_db


def _tracked_objects_kept(model, rows: int) -> int:
    """Return how many GC-tracked objects loading ``rows`` rows of ``model`` keeps alive."""
    model.objects.bulk_create([model(name=f"n{i}") for i in range(rows)])
    rowsync.flush()
    with rowsync.identity_scope():
        # A first load creates the model's caches (compiled query, the map's table).
        list(model.objects.all()[:1])
        gc.collect()
        before = {id(o) for o in gc.get_objects()}
        objs = list(model.objects.all())
        gc.collect()
        kept = sum(1 for o in gc.get_objects() if id(o) not in before)
        assert len(objs) == rows
    return kept


@pytest.mark.skipif(
    sys.version_info[:2] != (3, 11),
    reason="measured on Python 3.11, where the state keeps its attributes inline; 3.13's "
    "collector threshold (2000) makes the count matter far less",
)
def test_a_mapped_row_keeps_no_more_tracked_objects_than_a_plain_row():
    # Python 3.11's collector runs full collections in proportion to the tracked objects
    # a load keeps: a plain row keeps its instance and its ModelState, a mapped row too.
    rows = 300
    assert _tracked_objects_kept(Category, rows) <= _tracked_objects_kept(RegularCategory, rows)


def test_reading_mapped_rows_again_keeps_no_row_list_alive():
    # Each re-read used to keep Django's row list on the state (one more GC-tracked
    # object per row, which brought full collections forward): the state keeps the row
    # in its own attributes, rewriting only the values that changed.
    Category.objects.bulk_create([Category(name=f"n{i}") for i in range(50)])
    rowsync.flush()
    with rowsync.identity_scope():
        objs = list(Category.objects.all())
        again = list(Category.objects.all())
        assert all(map(operator.is_, again, objs))
        held = [vars(o._state).get("_rowsync_held") for o in objs]
        assert held == [None] * len(objs)
        Category.objects.filter(pk=objs[0].pk).update(name="changed")  # expires the field
        objs[1].name = "edited"  # an unsaved edit
        list(Category.objects.all())
        assert objs[0].name == "changed" and objs[1].name == "edited"
        assert tuple(objs[0]._state.rowsync_clean) == (objs[0].pk, "changed")
        assert tuple(objs[1]._state.rowsync_clean) == (objs[1].pk, "n1")
        assert "_rowsync_held" not in vars(objs[1]._state)


def test_the_state_remembers_the_row_and_is_the_maps_reference():
    c = Category.objects.create(name="c")
    rowsync.flush()
    (loaded,) = Category.objects.filter(pk=c.pk)
    state = loaded._state
    assert state() is loaded and state == state and state != ModelState()
    assert tuple(state.rowsync_clean) == (c.pk, "c")
    assert (state.db, state.adding) == ("default", False)


def test_copies_and_pickles_of_a_mapped_instance_have_a_plain_state():
    c = Category.objects.create(name="c")
    rowsync.flush()
    (loaded,) = Category.objects.filter(pk=c.pk)
    for other in (copy.copy(loaded), copy.deepcopy(loaded), pickle.loads(pickle.dumps(loaded))):
        assert other is not loaded and (other.pk, other.name) == (c.pk, "c")
        assert type(other._state) is ModelState
        assert (other._state.db, other._state.adding) == ("default", False)
        assert tuple(other._state.rowsync_clean) == (c.pk, "c")
    assert Category.objects.get(pk=c.pk) is loaded


def test_init_receivers_run_for_mapped_rows():
    c = Category.objects.create(name="c")
    rowsync.flush()
    seen = []

    def pre(sender, args, kwargs, **_):
        seen.append(("pre", list(args)))

    def post(sender, instance, **_):
        seen.append(("post", instance.name))

    pre_init.connect(pre, sender=Category)
    post_init.connect(post, sender=Category)
    try:
        (loaded,) = Category.objects.filter(pk=c.pk)
    finally:
        pre_init.disconnect(pre, sender=Category)
        post_init.disconnect(post, sender=Category)
    assert seen == [("pre", [c.pk, "c"]), ("post", "c")]
    assert Category.objects.get(pk=c.pk) is loaded


def test_a_dead_rows_state_does_not_keep_its_related_instances_alive():
    cat = Category.objects.create(name="c")
    Article.objects.create(name="a", category=cat)
    rowsync.flush()
    del cat
    articles = list(Article.objects.select_related("category"))
    category = weakref.ref(articles[0].category)
    del articles
    gc.collect()
    assert category() is None
