import os
import sys

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smsportal.settings")

app = Celery("smsportal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _settle_heap(**kwargs) -> None:
    """A worker process's start-up heap is frozen and its collector runs
    less often (``smsportal.heap``): a batch of reports or a wave of answers
    keeps thousands of objects alive for a moment."""
    from smsportal import heap

    heap.settle()


def worker_command(*options: str, loglevel: str = "info") -> list[str]:
    """The command line of a worker for this app, run by this Python (the
    development stack, the integration tests and the benchmark start them)."""
    return [sys.executable, "-m", "celery", "-A", "smsportal", "worker", "-l", loglevel, *options]


def enqueue(task: str, *args, on_commit: bool = True, **options) -> None:
    """Start the task at dotted path ``task`` with ``args``, by default once
    the current transaction commits (so the worker finds what it was told
    about). Services start their tasks through this, by name: a service
    never imports its app's tasks, which import the services."""
    from django.db import transaction
    from django.utils.module_loading import import_string

    if args:
        options["args"] = args

    def send() -> None:
        import_string(task).apply_async(**options)

    if on_commit:
        transaction.on_commit(send)
    else:
        send()
