"""Instance files: data model, JSON Schema, loading with clear errors, writing."""

from optsplit.instance.loader import dump_document, from_dict, load, load_profile, schema
from optsplit.instance.model import Instance, Job, Layer, Link, Network, Node, Profile, TimeStat

__all__ = [
    "Instance",
    "Job",
    "Layer",
    "Link",
    "Network",
    "Node",
    "Profile",
    "TimeStat",
    "dump_document",
    "from_dict",
    "load",
    "load_profile",
    "schema",
]
