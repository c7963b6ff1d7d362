"""Tell whether receivers of some signals connected or disconnected since the last look.

Django empties a signal's ``sender_receivers_cache`` on every ``connect()`` and
``disconnect()``; a key of rowsync's kept in it survives until then. Answers cached per
model (does it have receivers? may the rebuild skip ``__init__``?) stay valid while the
key is there.
"""

from __future__ import annotations

from django.dispatch import Signal

__all__ = ["ReceiverWatch"]


class ReceiverWatch:
    """Watches ``signals``; the watch itself is the key kept in their caches.

    Example:
        >>> watch = ReceiverWatch(pre_init, post_init)
        >>> if not watch.unchanged():
        ...     cached_answers.clear()
    """

    __slots__ = ("__weakref__", "signals")

    def __init__(self, *signals: Signal) -> None:
        self.signals = signals

    def unchanged(self) -> bool:
        """Return whether no receiver connected or disconnected since the last call.

        The first call, and any call after a change, answers False and watches afresh.
        """
        if all(self in signal.sender_receivers_cache for signal in self.signals):
            return True
        for signal in self.signals:
            signal.sender_receivers_cache[self] = ()
        return False
