"""rowsync's own tables: the event table that capture triggers write into."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.functions import Now


class JSONTextField(models.TextField):  # type: ignore[type-arg]
    """JSON stored as plain text: decoded when read, encoded when written from Python.

    Capture triggers write the row image as JSON text. A text column costs PostgreSQL
    far less per row than ``jsonb`` (measured: building ``jsonb`` doubled the cost of a
    captured delete), and nothing queries inside the image.
    """

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        """Decode the JSON text (NUMERIC values stay exact as ``Decimal``)."""
        if value is None or not isinstance(value, str):
            return value
        return json.loads(value, parse_float=Decimal)

    def get_prep_value(self, value: Any) -> Any:
        """Encode Python values as JSON text; text is stored as given (already JSON)."""
        if value is None or isinstance(value, str):
            return value
        return json.dumps(value, cls=DjangoJSONEncoder)


class DeletedRow(models.Model):
    """One row the database deleted (or nulled/defaulted), recorded by a capture trigger.

    Capture triggers insert rows with ``status = PENDING``. A delivery mode (in the same
    transaction, on commit, or a worker) sends Django's ``post_delete`` for it and then
    deletes the event (or marks it delivered / dead).

    Triggers write only ``model_label``, ``table_name``, ``op``, ``pk_text``, ``row``,
    ``changes``, ``txid``, ``context``, ``claimed_by`` and ``claimed_until``; every other
    column must have a database default (``db_default``), because trigger SQL is frozen into
    migrations and cannot learn about columns added later.

    Claims: ``claimed_by`` names the process (or in-process delivery) that delivers the event
    and ``claimed_until`` is its lease. An event is free for a worker when
    ``claimed_until`` is NULL or in the past. In-process delivery (modes "transaction" and
    "on_commit") stamps ``claimed_by`` with its token and, for "on_commit", a lease, so a
    worker leaves those events alone until the lease expires (the process died).
    """

    class Op(models.TextChoices):
        DELETE = "D", "delete"
        UPDATE = "U", "update"

    class Status(models.TextChoices):
        PENDING = "P", "pending"
        DEAD = "X", "dead letter"

    id = models.BigAutoField(primary_key=True)
    #: ``app_label.model_name`` of the model whose table lost the row.
    model_label = models.CharField(max_length=200)
    #: Database table the trigger fired on (kept in case the model was renamed since).
    table_name = models.CharField(max_length=200)
    op = models.CharField(
        max_length=1, choices=Op.choices, default=Op.DELETE, db_default=Op.DELETE
    )
    #: Primary key of the row, as text.
    pk_text = models.CharField(max_length=255)
    #: The row image as the trigger saw it (column name -> value), as JSON text.
    row = JSONTextField(null=True)
    #: For updates (SET_NULL/SET_DEFAULT/SET): the changed columns' new values.
    changes = models.JSONField(null=True)
    #: Transaction / session token written by the trigger, used to find "this transaction's" rows.
    txid = models.CharField(max_length=64, blank=True, default="", db_default="")
    #: Actor / request context (e.g. user id) set by middleware or a context manager.
    context = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_default=Now())
    status = models.CharField(
        max_length=1, choices=Status.choices, default=Status.PENDING, db_default=Status.PENDING
    )
    attempts = models.PositiveIntegerField(default=0, db_default=0)
    next_attempt_at = models.DateTimeField(null=True)
    claimed_by = models.CharField(max_length=100, blank=True, default="", db_default="")
    claimed_until = models.DateTimeField(null=True)
    last_error = models.TextField(blank=True, default="", db_default="")
    #: The last in-process delivery phase whose receivers already ran: ``""`` (none),
    #: ``"transaction"`` or ``"on_commit"``. Set when receivers of different delivery
    #: modes share the event (``rowsync.events.receiver_delivery``): later phases, the
    #: worker included, call only the receivers of later modes.
    delivered_through = models.CharField(max_length=16, blank=True, default="", db_default="")

    class Meta:
        db_table = "rowsync_deleted_row"
        indexes = [
            # The worker's claim walks pending events in id order and stops after one
            # batch: (status, id) serves "WHERE status = 'P' ... ORDER BY id LIMIT n"
            # without a sort, so InnoDB's FOR UPDATE SKIP LOCKED locks only the batch.
            models.Index(fields=["status", "id"], name="rowsync_dr_queue")
        ]
        verbose_name = "event"
        verbose_name_plural = "events"
        permissions = [
            ("retry_deletedrow", "Can retry, replay and requeue rowsync events"),
            ("discard_deletedrow", "Can discard rowsync events and dead letters"),
        ]

    def __str__(self) -> str:
        return f"{self.get_op_display()} {self.model_label} pk={self.pk_text}"


class DeadLetter(DeletedRow):
    """The dead letters of the event table (``status = DEAD``), for the admin's own page.

    A proxy: same table and rows as :class:`DeletedRow`. It has no permissions of its own
    (``default_permissions = ()``): the admin checks ``DeletedRow``'s (see docs/admin.md).
    """

    class Meta:
        proxy = True
        verbose_name = "dead letter"
        verbose_name_plural = "dead letters"
        default_permissions = ()


class CaptureSession(models.Model):
    """The delivery token and actor context of the one transaction writing on SQLite.

    SQLite has no session variables that a trigger can read, so rowsync writes one row
    here inside the transaction, right before an ORM delete, and removes it again before
    the transaction ends: the row is never committed, and since SQLite has a single
    writer, the row a trigger sees is always its own transaction's. PostgreSQL uses
    ``set_config(..., true)`` and MariaDB user variables instead (see ``rowsync.backends``).
    """

    id = models.BigAutoField(primary_key=True)
    claim = models.CharField(max_length=100, blank=True, default="")
    #: Seconds an on-commit claim holds the events before a worker may take them (NULL: none).
    lease = models.IntegerField(null=True)
    #: The actor / request context as JSON text.
    context = models.TextField(null=True)

    class Meta:
        db_table = "rowsync_capture_session"

    def __str__(self) -> str:
        return f"capture session {self.claim}"


class WorkerHeartbeat(models.Model):
    """The last sign of life of one ``manage.py rowsync worker`` process.

    A worker inserts its row when it starts, updates it while it runs (at most every few
    seconds, in its own short transaction) and deletes it when it stops cleanly; a row whose
    ``seen_at`` is old belongs to a worker that died. ``manage.py rowsync status`` and the
    admin read these rows; nothing in delivery depends on them.
    """

    #: The worker's id (``--worker-id``, by default ``host:pid:random``).
    worker_id = models.CharField(max_length=100, primary_key=True)
    hostname = models.CharField(max_length=255, blank=True, default="")
    pid = models.IntegerField(default=0)
    started_at = models.DateTimeField()
    #: When the worker last recorded its heartbeat.
    seen_at = models.DateTimeField()
    #: ``"idle"``, ``"busy"`` or ``"stopping"``.
    state = models.CharField(max_length=16, blank=True, default="")
    #: Events delivered, retried (failed attempts) and dead-lettered since the worker started.
    delivered = models.BigIntegerField(default=0)
    failed = models.BigIntegerField(default=0)
    dead = models.BigIntegerField(default=0)
    #: Events delivered and failed attempts in the trailing minute, as the worker counted them.
    delivered_last_minute = models.BigIntegerField(default=0)
    failed_last_minute = models.BigIntegerField(default=0)

    class Meta:
        db_table = "rowsync_worker_heartbeat"

    def __str__(self) -> str:
        return f"worker {self.worker_id}"
