"""Test models of the odapp suite."""

from __future__ import annotations
