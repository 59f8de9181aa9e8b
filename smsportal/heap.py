"""How a task worker process keeps its heap.

Python's cyclic garbage collector runs each time 700 more container objects
(lists, dicts, instances) have been made than freed, walks all of them that
are still alive, and every so often walks everything the process holds. A
batch of delivery reports or a wave of provider answers keeps tens of
thousands of objects alive for a moment, all freed by reference counting
when it ends: at 700 the collector walks each of them several times first,
for nothing. Measured on the benchmark's report mix, the worker applying
reports spent 4.7 of its 26 µs per report in the collector with the start-up
heap frozen and the default threshold, and none with the threshold below,
which a whole batch stays under.

Web workers keep Python's defaults. A page request through the whole
middleware stack leaves its request object in reference cycles (the lazy
user, the message storage, htmx's details all point back at it), freed only
by the collector: with a young generation this large each collection walked
fifty thousand such objects out of the processor's caches, and gunicorn's
workers spent more time collecting, not less.
"""

from __future__ import annotations

import gc

# Container objects made and not yet freed before the youngest generation
# is collected (Python's default is 700). Garbage held only by reference
# cycles waits that much longer: a few megabytes at most.
YOUNG_THRESHOLD = 50_000


def settle() -> None:
    """Freeze what the process holds now (Django, the apps, every module:
    left out of every walk, for good) and collect less often; called once,
    when a worker process has loaded what it runs."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
