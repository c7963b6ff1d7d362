"""Delivery modes and the plan of a finished capture session: what runs now, what later.

An event reaches its receivers in up to three *phases*, in the order of :class:`Mode`:
in the transaction of the delete, after its commit, in the worker. A receiver's mode is
its own (:func:`rowsync.events.receiver_delivery`), else its model's
(``RowsyncMeta.delivery``, else ``ROWSYNC_DELIVERY``). The settings and the decorator keep
taking the strings ``"transaction"``, ``"on_commit"`` and ``"worker"``: :class:`Mode` is a
``StrEnum``, so each member *is* its string.

:func:`plan_for` turns the modes an ORM delete must be ready for into a :class:`Plan`,
read by :mod:`rowsync.events.session` when the delete has run. This module knows no SQL.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import models

__all__ = ["Mode", "Plan", "model_mode", "modes_in_play", "plan_for", "rank"]


class Mode(enum.StrEnum):
    """A delivery mode, which is also the name of the phase that runs it (in this order)."""

    TRANSACTION = "transaction"
    ON_COMMIT = "on_commit"
    WORKER = "worker"

    @classmethod
    def parse(cls, value: object) -> Mode | None:
        """Return the mode ``value`` names, or None for anything else (a check reports it)."""
        return cls(value) if isinstance(value, str) and value in _VALUES else None


_VALUES = frozenset(mode.value for mode in Mode)

#: The modes in the order of their phases (what the settings accept).
MODES: tuple[Mode, ...] = tuple(Mode)

# {mode: rank}; "" (no phase ran yet, an event's empty ``delivered_through``) ranks below.
_RANK: dict[str, int] = {"": -1, **{mode: index for index, mode in enumerate(MODES)}}


def rank(mode: str, unknown: int = 0) -> int:
    """Return the position of ``mode``'s phase (``""``: -1, any other string: ``unknown``)."""
    return _RANK.get(mode, unknown)


def model_mode(model: type[models.Model]) -> Mode:
    """Return the delivery mode of ``model``'s events (``RowsyncMeta.delivery`` wins).

    An invalid value (reported by the system checks) counts as ``"transaction"``, the
    default, as it always did.
    """
    from rowsync import conf
    from rowsync.events.capture import model_option

    value = model_option(model, "delivery") or conf.delivery_mode()
    return Mode.parse(value) or Mode.TRANSACTION


@dataclass(frozen=True)
class Plan:
    """What the capture step does once Django's delete has run.

    Attributes:
        stream_now: Read the session's events in the transaction and call the receivers
            of phase ``"transaction"`` (the rest is kept for on-commit or released).
        on_commit: Deliver (what is left) after the commit.
        worker_only: Every event goes to the worker: the session stamps no claim and no
            lease, so a worker may take the events as soon as they are committed.
    """

    stream_now: bool
    on_commit: bool
    worker_only: bool


def plan_for(modes: Iterable[str]) -> Plan:
    """Return the :class:`Plan` of a delete whose events may have receivers in ``modes``.

    Events are read in the transaction when some receiver runs there, and also when both
    other phases are in play (the transaction then sorts which event goes where, once,
    instead of the on-commit phase re-reading every event).
    """
    present = frozenset(modes)
    stream_now = Mode.TRANSACTION in present or {Mode.ON_COMMIT, Mode.WORKER} <= present
    return Plan(
        stream_now=stream_now,
        on_commit=Mode.ON_COMMIT in present,
        worker_only=present <= {Mode.WORKER},
    )


# {(ROWSYNC_DELIVERY, ROWSYNC_CAPTURE...): delivery modes of the captured models}
_MODES: dict[str, frozenset[Mode]] = {}


def modes_in_play() -> frozenset[Mode]:
    """Return the modes an ORM delete must be ready for: models' and receivers' own."""
    from rowsync import conf
    from rowsync.events import receivers
    from rowsync.events.capture import captured_models

    key = conf.delivery_mode() + "|" + repr((conf.capture_selection(), conf.capture_exclude()))
    found = _MODES.get(key)
    if found is None:
        found = _MODES[key] = frozenset(model_mode(m) for m in captured_models())
    # Receivers may declare their own modes at any time (cheap: a handful of entries).
    return found | receivers.declared_modes()
