"""Django tasks used by the hand-off tests (imported only where ``django.tasks`` exists)."""

from __future__ import annotations

from django.tasks import task

from rowsync.events.handoff import instance_from_payload

#: [(payload, rebuilt instance)] of every run of :func:`record_event`.
RUNS: list = []


@task
def record_event(event):
    RUNS.append((event, instance_from_payload(event)))
    return event["pk"]
