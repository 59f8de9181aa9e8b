import pytest

from campaigns import services
from campaigns.models import Campaign, Message
from campaigns.selectors import campaign_counts
from providers.status import FINAL, Status

from .conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_real_worker_sends_a_campaign_through_the_sandbox(worker, draft, manager):
    worker()
    services.campaign_launch(campaign=draft, user=manager)

    def finished():
        statuses = set(Message.objects.filter(campaign=draft).values_list("status", flat=True))
        return statuses and statuses <= FINAL

    assert wait_for(finished), list(Message.objects.values_list("phone", "status"))
    draft.refresh_from_db()
    assert draft.state == Campaign.State.COMPLETED
    statuses = dict(Message.objects.filter(campaign=draft).values_list("phone", "status"))
    assert statuses == {
        "+4915112345601": Status.DELIVERED,
        "+4915112345602": Status.DELIVERED,
        "+4915112340000": Status.UNDELIVERED,
        "+33612349999": Status.REJECTED,
    }
    counts = campaign_counts([draft.pk])[draft.pk]
    assert counts.get(Status.DELIVERED) == 2
    assert counts.actual_cost == sum(m.actual_cost for m in Message.objects.filter(campaign=draft))
    assert counts.actual_cost > 0
