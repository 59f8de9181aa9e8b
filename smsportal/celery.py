import os
import sys

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smsportal.settings")

app = Celery("smsportal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def worker_command(*options: str, loglevel: str = "info") -> list[str]:
    """The command line of a worker for this app, run by this Python (the
    development stack, the integration tests and the benchmark start them)."""
    return [sys.executable, "-m", "celery", "-A", "smsportal", "worker", "-l", loglevel, *options]
