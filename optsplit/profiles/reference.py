"""Resolve a generator's ``--profile`` argument: an architecture name or a profile file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from optsplit.errors import InputError
from optsplit.instance.model import Profile


def profile_reference(profile: str, output: Path) -> tuple[Profile, str | dict[str, Any]]:
    """The profile and how an instance written to ``output`` refers to it: a path relative to
    the instance for a file, the profile inlined for an architecture name."""
    from optsplit.instance import load_profile
    from optsplit.instance.loader import profile_to_dict
    from optsplit.profiles.architectures import ARCHITECTURES

    if Path(profile).exists():
        loaded = load_profile(profile)  # validated now, with a message naming the file
        return loaded, os.path.relpath(Path(profile).resolve(), output.resolve().parent)
    if profile in ARCHITECTURES:
        loaded = ARCHITECTURES[profile]()
        return loaded, profile_to_dict(loaded)
    raise InputError(
        f"'{profile}' is neither a known architecture ({', '.join(ARCHITECTURES)}) nor a profile file",
        path="--profile",
    )
