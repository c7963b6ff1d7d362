"""Which identity map is in force: context-local maps, scopes and the shared map.

The current map lives in a :class:`contextvars.ContextVar`, never in a module
global, so every thread, every request and every explicit scope has its own map:

* a new thread starts with an empty context, hence with its own map (created on
  first use);
* ``request_started`` gives each request a fresh map and ``request_finished``
  flushes it (see :mod:`rowsync.identity.signals`);
* ``with identity_scope():`` (or ``async with``) runs a block with a map of its own;
* an asyncio task copies its creator's context: a task started inside a scope shares
  that scope's map, a task that needs its own opens ``identity_scope()`` itself.

Models with the ``shared_identity`` option use :data:`SHARED` instead: one
process-wide map, guarded by a lock, meant for read-mostly data.
"""

from __future__ import annotations

import threading
import weakref
from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING, Any

from rowsync._typing import DbAlias
from rowsync.identity.map import IdentityMap

if TYPE_CHECKING:
    from rowsync.identity.keys import IdentityOptions

#: Load modes (``Session.mode`` is a bit mask; 0 takes the loader's fast path).
NORMAL = 0
#: Overwrite the loaded values of mapped instances with the row (``populate_existing``).
POPULATE = 1
#: Build fresh instances and leave the map alone (refresh_from_db, annotated querysets).
BYPASS = 2


class Session:
    """What the current context loads through: a map and a load mode.

    Attributes:
        map: The context's identity map.
        mode: A mask of ``POPULATE`` and ``BYPASS`` (0: normal loads, the fast path).
    """

    __slots__ = ("map", "mode")

    def __init__(self, map: IdentityMap, mode: int = NORMAL) -> None:
        self.map = map
        self.mode = mode

    def derive(self, mode: int) -> Session:
        """Return a session on the same map with ``mode`` added to this one's."""
        return Session(self.map, self.mode | mode)


_CURRENT: ContextVar[Session | None] = ContextVar("rowsync_identity_session", default=None)

#: Every context map alive in the process (for evictions that must reach them all).
#: Read it through :func:`live_maps`: iterating a ``WeakSet`` while another thread adds
#: to it raises ``RuntimeError``.
LIVE_MAPS: weakref.WeakSet[IdentityMap] = weakref.WeakSet()
_LIVE_MAPS_LOCK = threading.Lock()


class _Config:
    """Settings read once by ``setup()`` so that the hot path never reads settings."""

    max_strong: int | None = None
    shared_max_strong: int | None = None


CONFIG = _Config()

#: The process-wide map of ``shared_identity`` models.
SHARED = IdentityMap(shared=True)


def new_map() -> IdentityMap:
    """Return a new context map (registered in :data:`LIVE_MAPS`)."""
    m = IdentityMap(max_strong=CONFIG.max_strong)
    with _LIVE_MAPS_LOCK:
        LIVE_MAPS.add(m)
    return m


def live_maps() -> list[IdentityMap]:
    """Return every context map alive in the process (a snapshot, safe across threads)."""
    with _LIVE_MAPS_LOCK:
        return list(LIVE_MAPS)


def current_session() -> Session:
    """Return the current context's session, creating its map on first use."""
    session = _CURRENT.get()
    if session is None:
        session = Session(new_map())
        _CURRENT.set(session)
    return session


def current_map() -> IdentityMap:
    """Return the identity map of the current context (thread, task, request or scope)."""
    return current_session().map


def map_for(opts: IdentityOptions) -> IdentityMap:
    """Return the map holding rows of ``opts``'s model: the shared map or the current one."""
    return SHARED if opts.shared else current_session().map


def set_session(session: Session | None) -> Token[Session | None]:
    """Make ``session`` current and return the token that restores the previous one."""
    return _CURRENT.set(session)


def reset_session(token: Token[Session | None]) -> None:
    """Restore the session that was current before ``set_session`` returned ``token``."""
    _CURRENT.reset(token)


def start_request() -> None:
    """Give the current context (a starting request) a fresh map."""
    _CURRENT.set(Session(new_map()))


def maps_for_flush() -> list[IdentityMap]:
    """Return the maps a flush of the current context clears: its own and the shared one."""
    session = _CURRENT.get()
    maps = [SHARED]
    if session is not None:
        maps.append(session.map)
    return maps


class identity_scope:  # noqa: N801 - used like a function: ``with identity_scope():``
    """Run a block with an identity map of its own.

    Usable as ``with``, ``async with`` or a decorator. The map is flushed (without
    signals) when the block ends, and the previous map is current again.

    Args:
        map: An existing map to make current (e.g. to hand one map to a worker);
            by default a new, empty one.

    Example:
        >>> with rowsync.identity_scope():
        ...     a = Article.objects.get(pk=1)
        ...     assert Article.objects.get(pk=1) is a  # no SQL the second time
    """

    def __init__(self, map: IdentityMap | None = None) -> None:
        self._given = map
        self._tokens: list[tuple[Token[Session | None], IdentityMap, bool]] = []

    def __enter__(self) -> IdentityMap:
        m = self._given if self._given is not None else new_map()
        self._tokens.append((_CURRENT.set(Session(m)), m, self._given is None))
        return m

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        token, m, owned = self._tokens.pop()
        _CURRENT.reset(token)
        if owned:
            m.clear()

    async def __aenter__(self) -> IdentityMap:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, func: Any) -> Any:
        """Decorate ``func`` (sync or async) to run inside a new scope."""
        import functools
        import inspect

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_inner(*args: Any, **kwargs: Any) -> Any:
                async with identity_scope():
                    return await func(*args, **kwargs)

            return async_inner

        @functools.wraps(func)
        def inner(*args: Any, **kwargs: Any) -> Any:
            with identity_scope():
                return func(*args, **kwargs)

        return inner


def clear_current(db: DbAlias | None = None) -> None:
    """Clear the current context's map and the shared map (no signals)."""
    for m in maps_for_flush():
        m.clear(db)
