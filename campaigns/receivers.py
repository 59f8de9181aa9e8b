"""What campaigns do when the layers below announce something."""

from django.dispatch import receiver

from contacts.signals import numbers_suppressed
from providers.signals import callback_stored, clicks_reported
from smsportal.celery import enqueue

from .models import Campaign
from .provider_clicks import record_provider_clicks
from .reports import schedule_stored_webhooks


@receiver(callback_stored, dispatch_uid="campaigns.apply_stored_callbacks")
def apply_stored_callbacks_soon(sender, account, **kwargs) -> None:
    schedule_stored_webhooks()


@receiver(clicks_reported, dispatch_uid="campaigns.record_provider_clicks")
def record_clicks_the_provider_reported(sender, account, clicks, **kwargs) -> list[str | None]:
    return record_provider_clicks(account, clicks)


@receiver(numbers_suppressed, dispatch_uid="campaigns.cancel_opted_out")
def cancel_held_messages_of_opted_out_numbers(sender, phones, **kwargs) -> None:
    # Messages not yet handed over are left out by the claim itself; only
    # those a provider already holds for later need asking it to cancel.
    if Campaign.objects.filter(schedule_at_provider=True, state=Campaign.State.SCHEDULED).exists():
        enqueue("campaigns.tasks.cancel_opted_out", on_commit=False)
