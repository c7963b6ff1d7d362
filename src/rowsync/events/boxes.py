"""The inbox side of a capture session, under the names it had before the pipeline redesign.

The state and its transitions live in :class:`rowsync.events.session.DeleteCapture`, the
SQL in :mod:`rowsync.events.inbox`, delivery from an inbox in
:mod:`rowsync.events.direct`. These functions keep the paths ``docs/api.md`` lists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rowsync.events import inbox
from rowsync.events.capture import CaptureSpec
from rowsync.events.direct import deliver_boxes
from rowsync.events.plan import Mode

if TYPE_CHECKING:
    from rowsync.events.session import DeleteCapture

__all__ = ["deliver_direct", "drop_signalled", "move", "session_rows", "stamp", "touched"]


def touched(session: DeleteCapture) -> list[CaptureSpec]:
    """Return the inboxes this session's delete wrote rows into."""
    return session.touched_boxes()


def session_rows(session: DeleteCapture, box: CaptureSpec) -> tuple[str, list[Any]]:
    """Return the condition selecting this session's rows in ``box``'s inbox."""
    return session.box_rows(box)


def drop_signalled(session: DeleteCapture, boxes: list[CaptureSpec]) -> None:
    """Delete the inbox rows of rows Django's collector signalled itself."""
    inbox.drop_signalled(session.using, boxes, session.box_rows, session.signalled)


def stamp(session: DeleteCapture, boxes: list[CaptureSpec], claim: str, lease: int | None) -> None:
    """Give this session's inbox rows a claim, lease and context."""
    session.stamp_boxes(boxes, claim, lease)


def move(session: DeleteCapture, boxes: list[CaptureSpec]) -> None:
    """Move this session's inbox rows into the event table."""
    session.move_boxes(boxes)


def deliver_direct(
    session: DeleteCapture, boxes: list[CaptureSpec], origin: Any, phase: str
) -> list[CaptureSpec]:
    """Deliver from the inboxes whose receivers all run now; return the other inboxes."""
    return deliver_boxes(session, boxes, origin, Mode(phase))
