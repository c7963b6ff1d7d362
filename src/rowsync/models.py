"""rowsync's own tables: the event table that capture triggers write into."""

from __future__ import annotations

from django.db import models


class DeletedRow(models.Model):
    """One row the database deleted (or nulled/defaulted), recorded by a capture trigger.

    Capture triggers insert rows with ``status = PENDING``. A delivery mode (in the same
    transaction, on commit, or a worker) sends Django's ``post_delete`` for it and then
    deletes the event (or marks it delivered / dead).
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
    op = models.CharField(max_length=1, choices=Op.choices, default=Op.DELETE)
    #: Primary key of the row, as text.
    pk_text = models.CharField(max_length=255)
    #: The row image as the trigger saw it (column name -> value).
    row = models.JSONField(null=True)
    #: For updates (SET_NULL/SET_DEFAULT/SET): the changed columns' new values.
    changes = models.JSONField(null=True)
    #: Transaction / session token written by the trigger, used to find "this transaction's" rows.
    txid = models.CharField(max_length=64, blank=True, default="")
    #: Actor / request context (e.g. user id) set by middleware or a context manager.
    context = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=1, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True)
    claimed_by = models.CharField(max_length=100, blank=True, default="")
    claimed_until = models.DateTimeField(null=True)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        db_table = "rowsync_deleted_row"
        indexes = [
            models.Index(fields=["status", "next_attempt_at", "id"], name="rowsync_dr_pending")
        ]

    def __str__(self) -> str:
        return f"{self.get_op_display()} {self.model_label} pk={self.pk_text}"
