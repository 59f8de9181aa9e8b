"""Worker processes leave the heap they start with out of the garbage
collector's walks."""

import gc

from celery.signals import worker_process_init

from smsportal import celery


def test_a_worker_process_freezes_the_heap_it_starts_with():
    assert celery._freeze_startup_heap in worker_process_init._live_receivers(None)
    assert gc.get_freeze_count() == 0
    try:
        celery._freeze_startup_heap()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
