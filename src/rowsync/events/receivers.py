"""Per-receiver delivery modes: which receivers of an event run in which phase.

An event reaches its receivers in up to three *phases*, in this order: ``"transaction"``
(during the ORM delete), ``"on_commit"`` (after the commit) and ``"worker"``. A
receiver's mode is the one given with :func:`receiver_delivery`, else the model's
(``RowsyncMeta.delivery``, else ``ROWSYNC_DELIVERY``). Each phase calls the receivers
whose mode is at or before it and after the event's ``delivered_through`` (the last phase
that already called receivers), so every receiver runs once per event, in its own phase,
or in the first later phase that runs (raw SQL deletes only ever reach the worker).

The modes are :class:`rowsync.events.plan.Mode`. This module knows no SQL; every delivery
path (in the transaction, on commit, the worker, replay) asks :func:`split` and sends
through :mod:`rowsync.events.send`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from asgiref.sync import async_to_sync
from django.db.models.signals import post_delete
from django.dispatch import Signal

from rowsync.events import batch
from rowsync.events.plan import MODES, Mode, rank

__all__ = ["MODES", "Split", "receiver_delivery", "split"]

#: Attribute :func:`receiver_delivery` sets on the receiver.
ATTRIBUTE = "_rowsync_delivery"

F = TypeVar("F", bound=Callable[..., Any])

# [(receiver's dotted name, mode)] of every declaration, for the system check (E065) and
# for the modes an ORM delete must be ready for.
_declared: list[tuple[str, object]] = []


def receiver_delivery(mode: str) -> Callable[[F], F]:
    """Deliver ``post_delete`` / ``post_db_update`` to the decorated receiver in ``mode``.

    Connect the receiver to Django's ``post_delete`` as usual; this only says *when* it
    runs for rows the database deleted. Rows Django's own collector deletes are signalled
    by Django, as always, whatever the mode.

    Args:
        mode: ``"transaction"``, ``"on_commit"`` or ``"worker"`` (anything else is
            reported by the system check ``rowsync.E065``).

    Returns:
        A decorator that returns the receiver unchanged (apart from the mode).

    Example:
        >>> @receiver(post_delete, sender=Article)
        ... @receiver_delivery("on_commit")
        ... def delete_attachment(sender, instance, **kwargs): ...
    """

    def decorate(func: F) -> F:
        # A bound method keeps no attributes of its own: mark the function behind it.
        target: Any = getattr(func, "__func__", func)
        setattr(target, ATTRIBUTE, mode)
        name = getattr(target, "__qualname__", None) or type(target).__qualname__
        _declared.append((f"{getattr(target, '__module__', '?')}.{name}", mode))
        return func

    return decorate


def declared_modes() -> frozenset[Mode]:
    """Return the valid modes declared with :func:`receiver_delivery` so far."""
    return frozenset(m for _name, mode in _declared if (m := Mode.parse(mode)) is not None)


def invalid_declarations() -> list[tuple[str, object]]:
    """Return ``[(receiver name, mode)]`` of declarations with an unknown mode."""
    return [(name, mode) for name, mode in _declared if mode not in MODES]


def mode_of(receiver: Callable[..., Any], default: Mode) -> Mode:
    """Return ``receiver``'s delivery mode: its own if valid, else ``default``."""
    return Mode.parse(getattr(receiver, ATTRIBUTE, None)) or default


#: Attribute of a receiver that keys its work on the event id
#: (:func:`rowsync.events.handoff.event_id`, e.g. the Celery hand-off's task id).
NEEDS_EVENT_ID = "_rowsync_needs_event_id"


def needs_event_ids(signal: Signal, sender: Any) -> bool:
    """Return whether a live receiver of ``signal`` for ``sender`` keys on the event id.

    A worker delivers the rows of such a model through the event table (their ids stay
    the same across redeliveries), never straight from an inbox.
    """
    return any(getattr(r, NEEDS_EVENT_ID, False) for r, _call in live_receivers(signal, sender))


def live_receivers(signal: Signal, sender: Any) -> list[tuple[Any, Callable[..., Any]]]:
    """Return ``[(receiver, callable)]`` for what ``signal.send(sender)`` would call.

    The callable of an async receiver runs it with ``async_to_sync``.
    ``Signal._live_receivers`` is private but has returned ``(sync, async)`` receivers
    since Django 5.0 (async signal support); sending to a subset needs it.

    The receivers of ``post_delete`` include those of
    :data:`rowsync.events.signals.post_delete_batch`, each as a callable that collects
    the instance for its batch (:func:`rowsync.events.batch.collectors`).
    """
    sync, asynchronous = signal._live_receivers(sender)
    found = [(r, r) for r in sync] + [(r, async_to_sync(r)) for r in asynchronous]
    if signal is post_delete and batch.has_receivers():
        found += batch.collectors(sender)
    return found


@dataclass(frozen=True)
class Split:
    """What one phase does with the events of one model (and one ``delivered_through``).

    Attributes:
        everyone: Call every live receiver (a plain ``signal.send``).
        now: The receivers to call when not ``everyone`` (may be empty).
        next_mode: The next phase that needs the events, or None: delete them.
    """

    everyone: bool
    now: tuple[Callable[..., Any], ...]
    next_mode: Mode | None

    @property
    def calls(self) -> bool:
        """Return whether this phase calls any receiver."""
        return self.everyone or bool(self.now)


def split(
    signal: Signal, sender: Any, model_mode: Mode, delivered_through: str, phase: Mode
) -> Split:
    """Split ``sender``'s receivers of ``signal`` between ``phase`` and later phases.

    Args:
        signal: ``post_delete`` or ``post_db_update``.
        sender: The model.
        model_mode: The model's delivery mode (default of receivers without their own).
        delivered_through: The last phase that already called receivers (``""``: none).
        phase: The phase running now.

    Returns:
        Which receivers to call now and which phase needs the events next. A model in
        ``"worker"`` mode always hands its events to the worker, which may have receivers
        this process lacks (``rowsync worker --import``); with no receiver here, the
        events go to the model's own phase (the identity map is updated there).
    """
    low, high = rank(delivered_through, -1), rank(phase)
    receivers = live_receivers(signal, sender)
    ranks = [rank(mode_of(r, model_mode)) for r, _call in receivers]
    now = tuple(
        call for (_r, call), rank in zip(receivers, ranks, strict=True) if low < rank <= high
    )
    later = {rank for rank in ranks if rank > high}
    default = rank(model_mode)
    if (model_mode == Mode.WORKER or not receivers) and default > high:
        later.add(default)
    return Split(
        everyone=len(now) == len(receivers) and bool(receivers),
        now=now,
        next_mode=MODES[min(later)] if later else None,
    )


def send_to(
    receivers: Sequence[Callable[..., Any]],
    signal: Signal,
    sender: Any,
    *,
    robust: bool,
    **named: Any,
) -> BaseException | None:
    """Call ``receivers`` as ``signal.send`` would; return the first error when ``robust``.

    Raises:
        Exception: whatever a receiver raises, when ``robust`` is False.
    """
    first: BaseException | None = None
    for receiver in receivers:
        if not robust:
            receiver(signal=signal, sender=sender, **named)
            continue
        try:
            receiver(signal=signal, sender=sender, **named)
        except Exception as exc:
            first = first or exc
    return first
