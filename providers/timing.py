"""Where a webhook request's time goes, counted in each web process.

Off unless ``WEBHOOK_TIMING_DIR`` names a directory (the benchmark sets it;
``make bench`` reports the figures): then each process adds the CPU time
(of its thread) and the wall time of every stage of each callback to its
own totals, and writes them to ``<dir>/<pid>.json`` twice a second. Off, a
stage mark is one call of a function that does nothing.

The stages, in the order a callback goes through them:

``request``    the server's request object, the middleware before the
               webhook's shortcut (``providers.middleware``)
``account``    the account found by its secret (in-process cache), Basic auth
``body``       the body, query, form fields and headers read
``screening``  the body and request screened before and after parsing
``parsing``    the backend reading the body into reports and replies
``insert``     the one INSERT (in autocommit: committed with it)
``schedule``   the worker told (``callback_stored``)
``answer``     the response built
``finish``     the middleware on the way out, the answer written

What a process spent beside them (reading the request off the socket,
accepting connections, the time between requests) is its CPU time less
their sum: each file also carries the process's total CPU time.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from pathlib import Path

STAGES = (
    "request",
    "account",
    "body",
    "screening",
    "parsing",
    "insert",
    "schedule",
    "answer",
    "finish",
)
# Seconds between writes of a process's totals.
FLUSH_EVERY = 0.5

_local = threading.local()
# stage -> [CPU seconds, wall seconds]
_totals: dict[str, list[float]] = {stage: [0.0, 0.0] for stage in STAGES}
_requests = [0]
_state = {"directory": None, "pid": None}


def _noop(stage: str) -> None:
    return None


def _mark(stage: str) -> None:
    """Add the time since the previous mark of this request to ``stage``."""
    clock = getattr(_local, "clock", None)
    if clock is None:
        return
    cpu, wall = time.thread_time(), time.perf_counter()
    total = _totals[stage]
    total[0] += cpu - clock[0]
    total[1] += wall - clock[1]
    clock[0], clock[1] = cpu, wall


# What the webhook's code calls between stages; a no-op unless switched on.
mark = _noop


def enable(directory: str) -> None:
    """Count callbacks from now on, writing totals under ``directory``."""
    from django.core.signals import request_finished, request_started

    global mark
    Path(directory).mkdir(parents=True, exist_ok=True)
    _state["directory"] = directory
    prefix = []

    def started(sender, environ=None, **kwargs):
        if not prefix:
            from .middleware import prefix_of, webhook_routes

            prefix.append(prefix_of(webhook_routes()))
        if environ is not None and environ.get("PATH_INFO", "").startswith(prefix[0]):
            _local.clock = [time.thread_time(), time.perf_counter()]
            _local.claimed = False
        else:
            _local.clock = None

    def finished(sender, **kwargs):
        if getattr(_local, "clock", None) is None:
            return
        if getattr(_local, "claimed", False):
            _mark("finish")
            _requests[0] += 1
        _local.clock = None
        _start_flusher()

    request_started.connect(started, weak=False, dispatch_uid="providers.timing.started")
    request_finished.connect(finished, weak=False, dispatch_uid="providers.timing.finished")
    mark = _mark


def disable() -> None:
    """Stop counting (the totals stay)."""
    from django.core.signals import request_finished, request_started

    global mark
    mark = _noop
    request_started.disconnect(dispatch_uid="providers.timing.started")
    request_finished.disconnect(dispatch_uid="providers.timing.finished")
    _local.clock = None
    _state["directory"] = None


def claim() -> None:
    """The request is a callback the shortcut took: count it."""
    if getattr(_local, "clock", None) is not None:
        _local.claimed = True
        _mark("request")


def snapshot() -> dict:
    cpu = os.times()
    return {
        "pid": os.getpid(),
        "requests": _requests[0],
        "process_cpu": cpu.user + cpu.system,
        "stages": {stage: list(values) for stage, values in _totals.items()},
    }


def _flush(directory: Path) -> None:
    data = json.dumps(snapshot())
    temporary = directory / f".{os.getpid()}.json"
    temporary.write_text(data)
    temporary.replace(directory / f"{os.getpid()}.json")


def _start_flusher() -> None:
    """One thread per process writes its totals (started in the process
    itself: a server that forks its workers runs none in its parent)."""
    if _state["pid"] == os.getpid():
        return
    _state["pid"] = os.getpid()

    def loop():
        while True:
            time.sleep(FLUSH_EVERY)
            directory = _state["directory"]
            if directory is None:
                _state["pid"] = None
                return
            with contextlib.suppress(OSError):
                _flush(Path(directory))

    threading.Thread(target=loop, name="webhook-timing", daemon=True).start()


def read(directory: str) -> dict:
    """Totals of every process that wrote under ``directory``: requests,
    process CPU seconds and {stage: [CPU seconds, wall seconds]}."""
    total = {"requests": 0, "process_cpu": 0.0, "stages": {s: [0.0, 0.0] for s in STAGES}}
    for path in Path(directory).glob("[0-9]*.json"):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        total["requests"] += data["requests"]
        total["process_cpu"] += data["process_cpu"]
        for stage, (cpu, wall) in data["stages"].items():
            total["stages"][stage][0] += cpu
            total["stages"][stage][1] += wall
    return total
