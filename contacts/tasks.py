from celery import shared_task

from . import services
from .models import ContactImport


@shared_task(bind=True, acks_late=True, max_retries=5)
def import_contacts(self, import_id: int) -> None:
    # One task per file, never per row. Redelivered after a worker crash, it
    # starts the file again (the merge by number makes that harmless) once
    # the lost worker's heartbeat has gone stale.
    job = services.import_run(import_id)
    if (
        job is None
        and ContactImport.objects.filter(pk=import_id, state=ContactImport.State.RUNNING).exists()
    ):
        raise self.retry(countdown=services.IMPORT_STALL_SECONDS)
