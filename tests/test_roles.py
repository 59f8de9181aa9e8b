"""Who may see and do what: the permission helpers, and every page and
action tried as anonymous, outsider (no role), analyst, manager and admin."""

import pytest
from django.urls import reverse

from campaigns.models import Campaign
from smsportal import roles

pytestmark = pytest.mark.django_db


def test_the_helpers(admin_user, manager, analyst, outsider):
    assert [roles.can_send(u) for u in (admin_user, manager, analyst, outsider)] == [
        True,
        True,
        False,
        False,
    ]
    assert [roles.can_administer(u) for u in (admin_user, manager, analyst, outsider)] == [
        True,
        False,
        False,
        False,
    ]
    assert [roles.can_view(u) for u in (admin_user, manager, analyst, outsider)] == [
        True,
        True,
        True,
        False,
    ]
    assert [roles.can_export(u) for u in (admin_user, manager, analyst, outsider)] == [
        True,
        False,
        True,
        False,
    ]


PAGES = [
    "home",
    "campaigns:index",
    "campaigns:messages",
    "campaigns:senders",
    "contacts:lists",
    "providers:accounts",
    "campaigns:windows",
]


@pytest.mark.parametrize("name", PAGES)
def test_pages_need_a_login_and_a_role(client, name, outsider, analyst):
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    client.force_login(outsider)
    assert client.get(url).status_code == 403
    client.force_login(analyst)
    assert client.get(url).status_code == 200


def test_an_analyst_sees_a_campaign_but_cannot_launch_it(client, analyst, draft):
    client.force_login(analyst)
    page = client.get(reverse("campaigns:detail", args=[draft.pk]))
    assert page.status_code == 200
    assert "Launch" not in page.content.decode()
    for action in ("launch", "pause", "resume", "cancel", "test_send", "edit"):
        method = client.get if action == "edit" else client.post
        assert method(reverse(f"campaigns:{action}", args=[draft.pk])).status_code == 403
    draft.refresh_from_db()
    assert draft.state == Campaign.State.DRAFT


def test_only_an_admin_manages_provider_accounts(client, manager, admin_user, sandbox):
    client.force_login(manager)
    assert client.get(reverse("providers:create")).status_code == 403
    assert client.post(reverse("providers:check", args=[sandbox.pk])).status_code == 403
    client.force_login(admin_user)
    assert client.get(reverse("providers:create") + "?kind=infobip").status_code == 200


def test_only_an_admin_approves_senders(client, manager, admin_user, sender):
    sender.status = "pending"
    sender.save()
    client.force_login(manager)
    url = reverse("campaigns:sender_decide", args=[sender.pk])
    assert client.post(url, {"decision": "approve"}).status_code == 403
    sender.refresh_from_db()
    assert sender.status == "pending"
    client.force_login(admin_user)
    client.post(url, {"decision": "approve"})
    sender.refresh_from_db()
    assert sender.status == "approved"


def test_webhooks_need_no_login(client, sandbox):
    response = client.post(
        reverse("providers:webhook", args=[sandbox.webhook_secret]),
        data=b'{"reports": []}',
        content_type="application/json",
    )
    assert response.status_code == 200
