"""Test models of the evapp suite."""

from __future__ import annotations
