"""What machine this is, for profiles and benchmark tables."""

from __future__ import annotations

import platform


def cpu_model() -> str:
    """The CPU model name (Linux /proc/cpuinfo, else what platform reports)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
