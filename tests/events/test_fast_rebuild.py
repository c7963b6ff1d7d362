"""Rebuilding instances without ``Model.__init__``: same instance, and only when safe."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models.signals import post_delete, post_init, pre_init
from django.test import override_settings

from rowsync.events.dispatch import fast_rebuild_ok, rebuild
from rowsync.models import DeletedRow
from tests.evapp.models import Author, Book, Chapter

pytestmark = pytest.mark.django_db(transaction=True)

IMAGE = {
    "id": 5,
    "author_id": 2,
    "title": "t",
    "price": "3.50",
    "published": "2024-01-02T03:04:05.000006+00:00",
    "data": {"a": [1, 2]},
    "blob": "0a0b",
    "in_print": True,
    "attachment": "evapp/x.txt",
    "secret": "s",
}


def state(instance):
    values = {k: v for k, v in instance.__dict__.items() if k != "_state"}
    return (
        type(instance),
        values,
        instance._state.adding,
        instance._state.db,
        instance.get_deferred_fields(),
    )


@pytest.mark.parametrize(
    "image",
    [IMAGE, {k: v for k, v in IMAGE.items() if k not in {"title", "secret"}}],
    ids=["full", "deferred"],
)
def test_fast_rebuild_builds_the_same_instance_as_from_db(image):
    assert fast_rebuild_ok(Book)
    slow = rebuild(Book, image, "default")
    fast = rebuild(Book, image, "default", fast=True)
    assert state(fast) == state(slow)
    assert fast.price == Decimal("3.50") and fast.blob == b"\n\x0b"
    assert fast.published == datetime.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=datetime.UTC)
    assert fast.attachment.name == "evapp/x.txt"
    assert fast.pk == 5 and fast.author_id == 2


@pytest.mark.parametrize("signal", [pre_init, post_init])
def test_init_receivers_switch_the_fast_path_off(signal):
    seen = []

    def receiver(sender, **kwargs):
        seen.append(sender)

    assert fast_rebuild_ok(Chapter)  # the answer is kept until a receiver connects
    signal.connect(receiver, sender=Chapter, weak=False)
    try:
        assert not fast_rebuild_ok(Chapter)
        assert fast_rebuild_ok(Book)
    finally:
        signal.disconnect(receiver, sender=Chapter)
    assert fast_rebuild_ok(Chapter)


@override_settings(ROWSYNC_DELIVERY="transaction", ROWSYNC_DELIVERY_BATCH_SIZE=3)
def test_post_init_receivers_still_run_for_delivered_rows():
    # Delivery asks once per batch: a receiver connected meanwhile is honoured.
    author = Author.objects.create(name="a")
    book = Book.objects.create(author=author, title="b")
    Chapter.objects.bulk_create(Chapter(book=book, title=f"c{i}") for i in range(7))
    inits = []
    deleted = []

    def on_init(sender, instance, **kwargs):
        inits.append(instance.pk)

    def on_delete(sender, instance, **kwargs):
        deleted.append(instance.pk)
        if len(deleted) == 3:
            post_init.connect(on_init, sender=Chapter, weak=False)

    post_delete.connect(on_delete, sender=Chapter, weak=False)
    try:
        with transaction.atomic():
            book.delete()
    finally:
        post_delete.disconnect(on_delete, sender=Chapter)
        post_init.disconnect(on_init, sender=Chapter)
    assert len(deleted) == 7
    # The batches after the one that connected the receiver went through
    # Model.__init__: a non-empty tail of the delivery order, without the first three.
    assert inits and inits == deleted[-len(inits) :]
    assert not set(inits) & set(deleted[:3])
    assert not DeletedRow.objects.exists()
