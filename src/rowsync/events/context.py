"""Actor / request context that travels with captured events.

Set it with the :func:`actor_context` context manager or :class:`ActorContextMiddleware`;
capture triggers copy it into ``DeletedRow.context`` for the rows deleted through the ORM
while it is active, and delivery exposes it again to receivers through
:func:`event_context` (and ``instance._rowsync_context``).
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.http import HttpRequest, HttpResponse

__all__ = ["ActorContextMiddleware", "actor_context", "current_context", "event_context"]

# The context of the code that deletes rows: {key: JSON-serialisable value}
_current: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "rowsync_actor_context", default=None
)
# The context of the event being delivered right now.
_delivering: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "rowsync_event_context", default=None
)


def current_context() -> dict[str, Any] | None:
    """Return the actor context in effect (None outside any :func:`actor_context`)."""
    return _current.get()


def current_context_json() -> str | None:
    """Return :func:`current_context` as JSON text for the capture session."""
    ctx = _current.get()
    return None if ctx is None else json.dumps(ctx, default=str, sort_keys=True)


@contextmanager
def actor_context(**values: Any) -> Iterator[dict[str, Any]]:
    """Attach ``values`` (e.g. ``user_id=3, reason="cleanup"``) to events captured inside.

    Nested blocks merge into the outer context. Values must be JSON-serialisable (others
    are stored with ``str()``).

    Example:
        >>> with actor_context(user_id=request.user.pk):
        ...     blog.delete()
    """
    merged = {**(_current.get() or {}), **values}
    token = _current.set(merged)
    try:
        yield merged
    finally:
        _current.reset(token)


def event_context() -> Any:
    """Return the context stored with the event whose signal is being delivered."""
    return _delivering.get()


def push_event_context(value: Any) -> contextvars.Token[Any]:
    """Make ``value`` the :func:`event_context` (used by delivery)."""
    return _delivering.set(value)


def pop_event_context(token: contextvars.Token[Any]) -> None:
    """Restore the :func:`event_context` in effect before :func:`push_event_context`."""
    _delivering.reset(token)


class ActorContextMiddleware:
    """Record the request's user and path as the actor context of every delete it makes.

    Add ``"rowsync.events.context.ActorContextMiddleware"`` after Django's
    ``AuthenticationMiddleware``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def get_context(self, request: HttpRequest) -> Mapping[str, Any]:
        """Return the context for ``request`` (override to add more keys)."""
        user = getattr(request, "user", None)
        user_id = user.pk if user is not None and user.is_authenticated else None
        return {"user_id": user_id, "path": request.path, "method": request.method}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with actor_context(**self.get_context(request)):
            return self.get_response(request)
