"""Who holds a lease: a process, named host:pid:tag.

The inbox's saved commands and the jobs table's running jobs both belong to the process whose
lease they carry. A process that ran on this machine and runs no more need not be waited for:
the kernel already says it is gone (a crash, then a restart). Another machine's process is
known only by its lease.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Collection
from pathlib import Path


def owner_name() -> str:
    """A name for a lease owner: this machine, this process, and a tag for this owner."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def died_here(owner: str, alive_here: Collection[str]) -> bool:
    """Whether `owner` (an owner_name) ran on this machine and runs no more, so its lease
    need not be waited for. `alive_here`: the owners alive in this process (several, as in
    tests, share one pid)."""
    host, _, pid = owner.rpartition(":")[0].rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        # Another machine's process: only its lease says whether it lives. (Replicas on
        # one database must have distinct host names, as containers and pods do.)
        return False
    if int(pid) == os.getpid():
        # This process, or one before it with the same pid (a restarted container).
        return owner not in alive_here
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    # Alive, or its pid reused since (then its lease tells, as elsewhere), or killed and not
    # yet reaped: a bot killed with its parent waits for init, which may take seconds.
    return _unreaped(int(pid))


def _unreaped(pid: int) -> bool:
    """Whether the process is a zombie (Linux's /proc says; elsewhere: not known, no)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # "pid (command) state ...": the command may hold spaces and parentheses.
    return stat.rpartition(")")[2].split()[:1] == ["Z"]
