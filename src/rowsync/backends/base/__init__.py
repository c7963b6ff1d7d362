"""What every rowsync backend knows about its database engine.

A backend holds facts (feature flags) and SQL templates for one vendor. Callers ask
``get_backend(connection).some_feature`` instead of testing ``connection.vendor``.

:class:`BaseBackend` is composed of one part per concern, each in its own module:

* :mod:`~rowsync.backends.base.core`: the connection, identifier quoting, literals;
* :mod:`~rowsync.backends.base.ondelete`: database-enforced ``on_delete``;
* :mod:`~rowsync.backends.base.capture`: capture triggers and the capture session;
* :mod:`~rowsync.backends.base.inbox`: the per-table inboxes;
* :mod:`~rowsync.backends.base.worker`: the event worker's claims and wake-ups;
* :mod:`~rowsync.backends.base.returning`: a fast delete that returns the deleted pks.

Each vendor package composes the same parts (``rowsync.backends.<vendor>``).
"""

from __future__ import annotations

from rowsync.backends.base.capture import PRE_CASCADE_DEPTH, CaptureMixin, TriggerSQL
from rowsync.backends.base.core import (
    MAX_NAME_BYTES,
    BackendCore,
    OfflineConnection,
    bounded_name,
)
from rowsync.backends.base.delivery import DeliveryMixin
from rowsync.backends.base.inbox import InboxMixin
from rowsync.backends.base.ondelete import (
    PROTECT_MARKER,
    SET_TARGET_MARKER,
    OnDeleteMixin,
    OnDeleteSpec,
    OnDeleteSQL,
)
from rowsync.backends.base.returning import ReturningDeleteMixin
from rowsync.backends.base.worker import WorkerListener, WorkerMixin

__all__ = [
    "MAX_NAME_BYTES",
    "PRE_CASCADE_DEPTH",
    "PROTECT_MARKER",
    "SET_TARGET_MARKER",
    "BackendCore",
    "BaseBackend",
    "CaptureMixin",
    "DeliveryMixin",
    "InboxMixin",
    "OfflineConnection",
    "OnDeleteMixin",
    "OnDeleteSQL",
    "OnDeleteSpec",
    "ReturningDeleteMixin",
    "TriggerSQL",
    "WorkerListener",
    "WorkerMixin",
    "bounded_name",
]


class BaseBackend(OnDeleteMixin, DeliveryMixin, WorkerMixin, ReturningDeleteMixin):
    """Facts and SQL for one database engine.

    Args:
        connection: The Django connection this backend describes.
    """
