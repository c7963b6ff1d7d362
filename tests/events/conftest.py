"""Fixtures of the events suite: signal recorders and event-table helpers."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.db.models.signals import post_delete

from rowsync.events import inbox
from rowsync.events.signals import post_db_update
from rowsync.models import DeletedRow


class Recorder:
    """Connects to a signal and records ``(model name, pk, origin type, instance)``."""

    def __init__(self, signal, sender=None):
        self.signal = signal
        self.sender = sender
        self.calls: list[dict] = []

    def __call__(self, sender, instance, using, origin=None, **kwargs):
        self.calls.append(
            {
                "model": sender.__name__,
                "pk": instance.pk,
                "instance": instance,
                "using": using,
                "origin": origin,
                **kwargs,
            }
        )

    def keys(self, model=None):
        return sorted(
            (c["model"], c["pk"]) for c in self.calls if model is None or c["model"] == model
        )


@pytest.fixture(autouse=True)
def _empty_event_table(request):
    """Start each test with an empty event table.

    Flushing a database between transactional tests runs ``DELETE FROM`` on SQLite and
    MariaDB, which fires the capture triggers of the flushed tables.
    """
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        return
    request.getfixturevalue("_django_db_helper")
    DeletedRow.objects.all().delete()
    inbox.clear("default")


@pytest.fixture
def deleted():
    """Record every post_delete."""
    rec = Recorder(post_delete)
    post_delete.connect(rec, weak=False, dispatch_uid="tests.events.deleted")
    yield rec
    post_delete.disconnect(dispatch_uid="tests.events.deleted")


@pytest.fixture
def updated():
    """Record every post_db_update."""
    rec = Recorder(post_db_update)
    post_db_update.connect(rec, weak=False, dispatch_uid="tests.events.updated")
    yield rec
    post_db_update.disconnect(dispatch_uid="tests.events.updated")


def pending(using="default"):
    """Return ``[(model_label, pk_text, op)]`` of the events left (inbox rows moved first)."""
    with transaction.atomic(using=using):
        inbox.move_free(using, 10**9)
    return sorted(DeletedRow.objects.using(using).values_list("model_label", "pk_text", "op"))


def queued(using="default"):
    """Return the event table's rows after moving what waits in the inboxes into it."""
    with transaction.atomic(using=using):
        inbox.move_free(using, 10**9)
    return DeletedRow.objects.using(using).all()
