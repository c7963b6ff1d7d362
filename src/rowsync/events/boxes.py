"""The inbox side of a capture session (SQLite, PostgreSQL): find, stamp, move, deliver.

A capture session (:func:`rowsync.events.delivery.capture_session`) watches the inboxes its
delete may fill (:func:`rowsync.events.inbox.reachable`). Afterwards these functions find
the session's rows there (a sequence range and the claim where inboxes are ordered, the
claim alone otherwise), drop those Django signalled itself, deliver them straight from the
inbox (:mod:`rowsync.events.direct`) when every receiver runs in the phase at hand, and
move the others into the event table, where the rest of the delivery machinery takes them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.db import connections
from django.db.models.signals import post_delete

from rowsync.backends import get_backend
from rowsync.events import direct, inbox, receivers
from rowsync.events.capture import CaptureSpec
from rowsync.events.dispatch import _model_mode

if TYPE_CHECKING:
    from rowsync.events.delivery import Session

__all__ = ["deliver_direct", "drop_signalled", "move", "session_rows", "stamp", "touched"]


def touched(session: Session) -> list[CaptureSpec]:
    """Return the inboxes this session's delete wrote rows into (one query)."""
    if not session.boxes:
        return []
    if not session.box_ordered:
        return list(session.boxes)  # every watched inbox: the claim tells the rows apart
    if session.box_ceilings is None:
        session.box_ceilings = inbox.ceilings(session.using, session.boxes)
    tops = session.box_ceilings
    return [b for b in session.boxes if tops[b.inbox] > session.box_floors[b.inbox]]


def session_rows(session: Session, box: CaptureSpec) -> tuple[str, list[Any]]:
    """Return the condition selecting this session's rows in ``box``'s inbox."""
    backend = get_backend(connections[session.using])
    if not session.box_ordered:
        return backend.requote('"rowsync_claim" = %s'), [session.box_tag]
    assert session.box_ceilings is not None
    return (
        backend.requote('"rowsync_seq" > %s AND "rowsync_seq" <= %s AND "rowsync_claim" = %s'),
        [session.box_floors[box.inbox], session.box_ceilings[box.inbox], session.box_tag],
    )


def drop_signalled(session: Session, boxes: list[CaptureSpec]) -> None:
    """Delete the inbox rows of rows Django's collector signalled itself."""
    using = session.using
    by_label: dict[str, list[str]] = {}
    for label, pk_text in session.signalled:
        by_label.setdefault(label, []).append(pk_text)
    text = get_backend(connections[using]).inbox_text_type
    with connections[using].cursor() as cursor:
        for box in boxes:
            pks = by_label.get(box.model_label)
            if not pks:
                continue
            where, params = session_rows(session, box)
            pk = connections[using].ops.quote_name(box.pk_column)
            for start in range(0, len(pks), 500):
                chunk = pks[start : start + 500]
                marks = ", ".join(["%s"] * len(chunk))
                cursor.execute(
                    f"DELETE FROM {connections[using].ops.quote_name(box.inbox)} WHERE {where} "
                    f"AND CAST({pk} AS {text}) IN ({marks})",
                    [*params, *chunk],
                )


def stamp(session: Session, boxes: list[CaptureSpec], claim: str, lease: int | None) -> None:
    """Give this session's inbox rows a claim, lease and context (SQLite's triggers write none)."""
    backend = get_backend(connections[session.using])
    with connections[session.using].cursor() as cursor:
        for box in boxes:
            where, params = session_rows(session, box)
            cursor.execute(
                backend.inbox_stamp_sql(box, where),
                [claim, lease, lease, session.context, *params],
            )
    session.box_tag = claim


def move(session: Session, boxes: list[CaptureSpec]) -> None:
    """Move this session's inbox rows into the event table (they follow its floor)."""
    for box in boxes:
        where, params = session_rows(session, box)
        inbox.move(session.using, box, where, params)
    if boxes:
        session.ceiling = None
    session.box_waiting = False


def deliver_direct(
    session: Session, boxes: list[CaptureSpec], origin: Any, phase: str
) -> list[CaptureSpec]:
    """Deliver from the inboxes whose receivers all run now; return the other inboxes.

    See :mod:`rowsync.events.direct`. Rows that cannot be rebuilt stay in their inbox,
    which is returned too (the event-table path releases them to the worker).
    """
    if not boxes:
        return []
    rest: list[CaptureSpec] = []
    using = session.using
    for box in boxes:
        try:
            model = apps.get_model(box.model_label)
        except LookupError:
            rest.append(box)
            continue
        part = receivers.split(post_delete, model, _model_mode(model), "", phase)
        if part.next_mode is not None:
            rest.append(box)
            continue
        where, params = session_rows(session, box)
        bad = direct.deliver_box(
            using,
            model,
            box,
            where,
            params,
            origin,
            phase,
            session.context,
        )
        if bad:
            rest.append(box)
    return rest
