"""Models used only by the test suite. Each subsystem keeps its models in its own module."""

from __future__ import annotations
