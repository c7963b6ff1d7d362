"""rowsync.W121: a batch receiver for a model rowsync does not capture is never called."""

from __future__ import annotations

from django.core import checks

from rowsync.events.checks import uncalled_batch_receivers
from rowsync.events.signals import post_delete_batch
from tests.evapp.models import Chapter, Plain, Shelf


def rows_written(sender, instances, **kwargs):
    pass


def test_a_batch_receiver_for_a_model_that_is_not_captured_is_reported():
    post_delete_batch.connect(rows_written, sender=Plain, weak=False)
    post_delete_batch.connect(rows_written, sender=Chapter, weak=False)  # captured: fine
    try:
        found = uncalled_batch_receivers([Plain, Chapter, Shelf])
        everything = [m for m in checks.run_checks() if m.id == "rowsync.W121"]
    finally:
        post_delete_batch.disconnect(rows_written, sender=Plain)
        post_delete_batch.disconnect(rows_written, sender=Chapter)
    assert [(m.id, m.obj) for m in found] == [("rowsync.W121", Plain)]
    assert "test_batch_receiver_check.rows_written" in found[0].msg
    assert "evapp.Plain" in found[0].msg and found[0].hint
    assert [m.obj for m in everything] == [Plain]


def test_a_batch_receiver_for_every_sender_is_left_alone():
    post_delete_batch.connect(rows_written, weak=False)
    try:
        assert uncalled_batch_receivers([Plain, Chapter, Shelf]) == []
    finally:
        post_delete_batch.disconnect(rows_written)
