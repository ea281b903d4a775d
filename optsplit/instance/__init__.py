"""Instance files: data model, JSON Schema, loading within ReadLimits with clear errors, writing."""

from optsplit.instance.limits import ReadLimits
from optsplit.instance.loader import dump_document, from_dict, load, load_profile
from optsplit.instance.model import Instance, Layer, Profile, TimeStat
from optsplit.instance.validation import schema

__all__ = [
    "Instance",
    "Layer",
    "Profile",
    "ReadLimits",
    "TimeStat",
    "dump_document",
    "from_dict",
    "load",
    "load_profile",
    "schema",
]
