"""The one registry of patches and the one ``Collector.delete`` wrapper."""

from __future__ import annotations

from django.db.models.deletion import Collector

import rowsync
from rowsync import _patch


def test_collector_delete_is_wrapped_once_with_ordered_steps() -> None:
    applied = [p for p in rowsync.patches_applied() if p.owner is Collector]
    # delete() once for every feature; related_objects() for on_delete alone (it leaves
    # the children of a project-wide CASCADE to the database); collect() for the identity
    # map (the rows a delete collects are the Collector's own instances).
    assert sorted(p.name for p in applied) == ["collect", "delete", "related_objects"]
    record = _patch.record_of(Collector.__dict__["delete"])
    assert record in applied and record.name == "delete"
    hook = _patch.record_of(Collector.__dict__["related_objects"])
    assert hook is not None and hook.feature == "ondelete"
    assert record.target == "django.db.models.deletion.Collector.delete"
    steps = _patch.delete_steps()
    # The test settings switch both features on: on_delete outside the capture session.
    assert steps == ["ondelete.enforce", "events.capture_session"]


def test_every_patch_carries_the_one_marker() -> None:
    for record in rowsync.patches_applied():
        current = (
            record.owner.__dict__[record.name]
            if isinstance(record.owner, type)
            else (getattr(record.owner, record.name))
        )
        assert record in _patch.records_of(current), record.target
        assert _patch.is_applied(record.owner, record.name)
        assert _patch.original(record.owner, record.name) is record.original


def test_apply_is_idempotent_and_keeps_the_original() -> None:
    class Target:
        def hello(self) -> str:
            return "django"

    def make(original):  # type: ignore[no-untyped-def]
        def hello(self) -> str:  # type: ignore[no-untyped-def]
            return "rowsync+" + original(self)

        return hello

    before = len(rowsync.patches_applied())
    assert _patch.apply(Target, "hello", make, feature="test") is True
    assert _patch.apply(Target, "hello", make, feature="test") is False
    assert Target().hello() == "rowsync+django"
    assert _patch.original(Target, "hello")(Target()) == "django"
    assert _patch.is_applied(Target, "hello")
    assert len(rowsync.patches_applied()) == before + 1


def test_steps_run_in_order_around_django() -> None:
    calls: list[str] = []

    def outer(collector, proceed):  # type: ignore[no-untyped-def]
        calls.append("outer")
        return proceed()

    assert _patch._run.__name__ == "_run"
    steps = [_patch._Step("o", 1, outer, "test")]
    saved = list(_patch._STEPS)
    _patch._STEPS[:] = steps
    try:
        result = _patch._run(object(), 0, lambda c: calls.append("django") or (0, {}))
    finally:
        _patch._STEPS[:] = saved
    assert calls == ["outer", "django"]
    assert result == (0, {})
