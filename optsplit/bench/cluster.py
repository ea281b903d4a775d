"""A Dask client for benchmark sweeps and Monte Carlo checks: a given scheduler or a LocalCluster."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distributed import Client


@contextmanager
def connect(scheduler: str | None = None, workers: int = 1) -> Iterator[Client]:
    """A client of the scheduler at ``scheduler`` (e.g. ``tcp://host:8786``), or else of a fresh
    `LocalCluster` of ``workers`` single-thread worker processes, closed on exit."""
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    local = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    with local, Client(local) as client:
        yield client
