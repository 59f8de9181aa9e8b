"""A campaign's updated_at moves with every change of its state, including
those the engine makes (a scheduled campaign starting, completion)."""

import datetime as dt

import pytest
from django.utils import timezone

from campaigns import services
from campaigns.models import Campaign

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_completed_campaign_was_last_updated_when_it_completed(draft, manager):
    services.campaign_launch(campaign=draft, user=manager)

    draft.refresh_from_db()
    assert draft.state == Campaign.State.COMPLETED
    assert draft.updated_at >= draft.completed_at


def test_a_scheduled_campaign_that_starts_is_updated(draft, manager):
    draft.scheduled_at = timezone.now() + dt.timedelta(hours=1)
    draft.save()
    services.campaign_launch(campaign=draft, user=manager)
    # Its time comes: set past the model, so updated_at stays where it was.
    long_ago = timezone.now() - dt.timedelta(days=1)
    Campaign.objects.filter(pk=draft.pk).update(
        scheduled_at=timezone.now() - dt.timedelta(seconds=1), updated_at=long_ago
    )

    assert services.start_due_campaigns() == [draft.pk]

    draft.refresh_from_db()
    assert draft.state == Campaign.State.RUNNING
    assert draft.updated_at > long_ago + dt.timedelta(hours=23)
