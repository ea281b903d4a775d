"""Entry of a case's child process: `python -m optsplit.bench.child TASK ROW` (pickle files).

Reads (execute, case) from TASK, runs it, writes the row to ROW. Exits at once if its
parent (the worker waiting for it) goes away, so a cancelled sweep leaves no solver running.
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
import time
from pathlib import Path

from optsplit.bench.isolate import run_case

ORPHAN_EXIT = 70
POLL_SECONDS = 1.0


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    os._exit(ORPHAN_EXIT)


def main(task: Path, answer: Path) -> None:
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True).start()
    execute, case = pickle.loads(task.read_bytes())
    row = run_case(execute, case)
    partial = answer.with_suffix(".partial")
    partial.write_bytes(pickle.dumps(row))
    partial.replace(answer)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
