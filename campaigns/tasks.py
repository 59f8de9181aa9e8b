"""Celery tasks: each fetches by id and calls a service. They move batches,
never one message per task, and are safe to run twice."""

import logging
from datetime import timedelta

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from providers import services as provider_services
from providers.base import Unavailable
from providers.models import ProviderAccount

from . import abtest, conversions, dispatch, replies, reports, services
from .models import Campaign

log = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def materialise_campaign(campaign_id: int) -> None:
    services.materialise(campaign_id)
    dispatch_campaign.delay(campaign_id)


@shared_task(ignore_result=True)
def dispatch_campaign(campaign_id: int) -> None:
    submitted = dispatch.dispatch(campaign_id)
    campaign = Campaign.objects.filter(pk=campaign_id).only("state", "schedule_at_provider").first()
    if submitted and campaign and campaign.state in campaign.sending_states:
        # More may be waiting: hand over to a fresh task rather than hold a
        # worker forever.
        dispatch_campaign.delay(campaign_id)


@shared_task(ignore_result=True)
def dispatch_due() -> None:
    """Every few seconds: start scheduled campaigns whose time came, kick
    running ones (messages whose window or backoff has passed), recover
    messages left by dead workers."""
    # Short: a worker killed while holding it must not stall recovery long.
    if not cache.add("lock:dispatch_due", 1, timeout=30):
        return
    try:
        services.start_due_campaigns()
        # A launch whose materialising task was lost (a worker died holding
        # it) is picked up again; materialise is idempotent.
        for campaign_id in Campaign.objects.filter(
            state__in=[Campaign.State.RUNNING, Campaign.State.SCHEDULED],
            materialised_at__isnull=True,
        ).values_list("id", flat=True):
            materialise_campaign.delay(campaign_id)
        dispatch.recover_stuck()
        running = Campaign.objects.filter(state=Campaign.State.RUNNING).values_list("id", flat=True)
        for campaign_id in running:
            dispatch_campaign.delay(campaign_id)
    finally:
        cache.delete("lock:dispatch_due")


@shared_task(ignore_result=True)
def decide_ab_tests() -> None:
    """Every minute: A/B tests whose time is up get their winner (or, when
    no variant has data for the metric, wait for a person)."""
    if not cache.add("lock:decide_ab_tests", 1, timeout=300):
        return
    try:
        abtest.decide_due()
    finally:
        cache.delete("lock:decide_ab_tests")


@shared_task(ignore_result=True)
def squash_counters() -> None:
    if cache.add("lock:squash_counters", 1, timeout=120):
        try:
            services.squash_counters()
        finally:
            cache.delete("lock:squash_counters")


@shared_task(ignore_result=True)
def cancel_at_provider(campaign_id: int) -> None:
    """Cancel messages already scheduled at the provider."""
    services.cancel_at_provider(Campaign.objects.select_related("account").get(pk=campaign_id))


@shared_task(ignore_result=True)
def refresh_provider_views() -> None:
    """The provider's figures for campaigns sent to its lists, for two days
    after sending."""
    since = timezone.now() - timedelta(days=2)
    for campaign in (
        Campaign.objects.select_related("account")
        .filter(provider_sent_at__gte=since)
        .exclude(provider_campaign_uid="")
    ):
        services.refresh_provider_view(campaign)


@shared_task(ignore_result=True)
def poll_statuses() -> None:
    """Poll providers that do not push, and pull queued reports/replies."""
    if not cache.add("lock:poll_statuses", 1, timeout=300):
        return  # the previous run is still going
    try:
        for account in ProviderAccount.objects.filter(enabled=True):
            caps = account.backend_class.capabilities
            if not (caps.polling or caps.push_reports or caps.inbound):
                continue
            try:
                reports.poll_account(account)
            except Unavailable as error:
                # The provider has no such call for this account: polling is
                # switched off for it, with a notice on its page.
                provider_services.switch_off(account, error)
            except Exception:
                log.exception("polling %s failed", account)
    finally:
        cache.delete("lock:poll_statuses")


@shared_task(ignore_result=True)
def apply_webhooks(last_look: bool = False) -> None:
    """Apply the callbacks the webhook stored (queued when one is stored,
    and every few seconds by beat in case a worker died while applying)."""
    reports.apply_stored_webhooks(last_look=last_look)


@shared_task(ignore_result=True)
def send_keyword_reply(message_id: int) -> None:
    """Send one confirmation of a keyword reply (logged when it came in)."""
    replies.send_reply(message_id)


@shared_task(ignore_result=True)
def cancel_opted_out() -> None:
    """Cancel at the provider messages it holds for a later time whose
    numbers have been suppressed since they were handed over."""
    services.cancel_opted_out_at_provider()


@shared_task(ignore_result=True)
def mark_unreported() -> None:
    """Messages whose report is overdue: ask the provider where it can be
    asked, then mark what is left as without a report."""
    if not cache.add("lock:mark_unreported", 1, timeout=600):
        return
    try:
        reports.mark_unreported()
    finally:
        cache.delete("lock:mark_unreported")


@shared_task(ignore_result=True)
def log_conversion(conversion_id: int, attempt: int = 1) -> None:
    """Report one conversion to the provider that sent its message; a
    transient failure (no answer, 5xx, 429) is tried again later, a few times."""
    error = conversions.log_at_provider(conversion_id, attempt=attempt)
    if error is not None:
        log_conversion.apply_async(
            (conversion_id, attempt + 1), countdown=error.retry_after or 30 * 2**attempt
        )
