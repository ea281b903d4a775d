"""Benchmark suites of `online` (filled in below)."""

from __future__ import annotations

from typing import Any

SUITES: dict[str, Any] = {}
