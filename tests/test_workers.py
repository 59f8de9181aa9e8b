"""Task worker processes leave the heap they start with out of the garbage
collector's walks, and collect less often (``smsportal.heap``)."""

import gc

from celery.signals import worker_process_init

from smsportal import celery, heap


def test_a_worker_process_freezes_the_heap_it_starts_with():
    assert celery._settle_heap in worker_process_init._live_receivers(None)
    assert gc.get_freeze_count() == 0
    threshold = gc.get_threshold()
    try:
        celery._settle_heap()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (heap.YOUNG_THRESHOLD, *threshold[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
