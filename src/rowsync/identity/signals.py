"""Flush signals and the handlers that flush maps at request end and after migrations.

``pre_flush`` and ``post_flush`` are sent by :func:`flush` with ``db`` (an alias, or
None when every database is flushed), as django-idmap sent them.
:func:`flush_idmap` is connected to ``request_finished`` and ``post_migrate``;
disconnect it to keep a request's map after the request (at your own risk):

    from django.core.signals import request_finished
    from rowsync.idmap.signals import flush_idmap
    request_finished.disconnect(flush_idmap)
"""

from __future__ import annotations

from typing import Any

from django.core.signals import request_finished, request_started
from django.db.models.signals import post_migrate
from django.dispatch import Signal

from rowsync._typing import DbAlias
from rowsync.identity import scope

#: Sent before a flush, with ``sender`` (the ``IdentityModel`` class) and ``db``.
pre_flush = Signal()
#: Sent after a flush, with ``sender`` (the ``IdentityModel`` class) and ``db``.
post_flush = Signal()


def _sender() -> Any:
    from rowsync.identity.models import IdentityModel

    return IdentityModel


def flush(db: DbAlias | None = None) -> None:
    """Empty the current context's identity map and the shared map.

    Args:
        db: Flush only the instances of this database for ``multi_db`` models (other
            mapped models are flushed whole, as with django-idmap). None flushes all.
    """
    sender = _sender()
    pre_flush.send(sender=sender, db=db)
    scope.clear_current(db)
    post_flush.send(sender=sender, db=db)


def flush_idmap(sender: Any = None, **kwargs: Any) -> None:
    """Flush the finishing request's map (``request_finished``) or after ``post_migrate``."""
    flush(db=kwargs.get("using"))


def begin_request(sender: Any = None, **kwargs: Any) -> None:
    """Give the starting request a map of its own (``request_started``)."""
    scope.start_request()


def connect() -> None:
    """Connect the request and migration handlers (idempotent: Django keys them by function).

    No ``dispatch_uid``: ``request_finished.disconnect(flush_idmap)`` must find the
    receiver, as django-idmap documented.
    """
    request_started.connect(begin_request)
    request_finished.connect(flush_idmap)
    post_migrate.connect(flush_idmap)
