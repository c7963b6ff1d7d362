"""Models of a project that uses Django alone: nothing asks rowsync for anything."""

from __future__ import annotations

from django.db import models


class Customer(models.Model):
    name = models.CharField(max_length=50)


class Order(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE)


class Tag(models.Model):
    name = models.CharField(max_length=50)
    orders = models.ManyToManyField(Order, related_name="tags")


class Captured(models.Model):
    """Selected by ``ROWSYNC_CAPTURE`` in the runs that switch capture on."""

    name = models.CharField(max_length=50)


if hasattr(models, "DB_CASCADE"):  # Django >= 6.1

    class Invoice(models.Model):
        customer = models.ForeignKey(Customer, on_delete=models.DB_CASCADE)

    class InvoiceLine(models.Model):
        invoice = models.ForeignKey(Invoice, on_delete=models.DB_CASCADE)
