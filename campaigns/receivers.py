"""What campaigns do when the layers below announce something."""

from django.dispatch import receiver

from providers.signals import callback_stored

from .reports import schedule_stored_webhooks


@receiver(callback_stored, dispatch_uid="campaigns.apply_stored_callbacks")
def apply_stored_callbacks_soon(sender, account, **kwargs) -> None:
    schedule_stored_webhooks()
