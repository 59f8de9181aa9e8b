"""Shared fixtures: users of every role, an outsider, and a sandbox workspace.

Unit and page tests run Celery tasks eagerly in-process; the integration
tests start real worker processes instead.
"""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User

from campaigns.models import Approval, Campaign, SenderID
from contacts import services as contact_services
from providers.models import ProviderAccount, RateCardEntry
from smsportal import roles
from smsportal.celery import app as celery_app

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def eager_celery(request, settings):
    # Hashing passwords properly is slow on purpose; tests need no such care.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # A web process that asked for the applier a moment ago does not ask
    # again; an earlier test's asking is not this test's.
    from campaigns import reports

    reports._asked_at[0] = -reports.ASK_EVERY
    if request.node.get_closest_marker("integration"):
        yield
        return
    settings.SANDBOX_REPORT_DELAY = 0
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def compliance_rules_off(settings):
    """Quiet hours depend on the time of day a test runs, and the opt-out
    check adds a warning to every text without an instruction: both are off
    unless a test switches them on (tests/campaigns/test_compliance.py)."""
    settings.QUIET_HOURS_ENABLED = False
    settings.OPT_OUT_CHECK = False


def make_user(username, role=None, **extra):
    user = User.objects.create_user(username, f"{username}@example.com", PASSWORD, **extra)
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@pytest.fixture
def admin_user(db):
    return make_user("alice", roles.ADMIN, is_staff=True)


@pytest.fixture
def manager(db):
    return make_user("mona", roles.MANAGER)


@pytest.fixture
def analyst(db):
    return make_user("andy", roles.ANALYST)


@pytest.fixture
def outsider(db):
    """Signed in, but given no role."""
    return make_user("oscar")


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def sandbox(db):
    account = ProviderAccount.objects.create(
        name="Sandbox", kind="sandbox", throughput=1000, default_price=Decimal("0.05")
    )
    RateCardEntry.objects.create(account=account, country="DE", price=Decimal("0.075"))
    RateCardEntry.objects.create(account=account, country="FR", price=Decimal("0.068"))
    return account


@pytest.fixture
def sender(sandbox):
    sender = SenderID(value="Shop", status=Approval.APPROVED)
    sender.clean()
    sender.save()
    sender.accounts.add(sandbox)
    return sender


@pytest.fixture
def customers(db):
    contact_list = contact_services.list_create(name="Customers")
    contact_services.list_add_contacts(
        contact_list=contact_list,
        rows=[
            {"phone": "+4915112345601", "first_name": "Anna"},
            {"phone": "+4915112345602", "first_name": ""},
            {"phone": "+4915112340000", "first_name": "Paul"},  # sandbox: undelivered
            {"phone": "+33612349999", "first_name": "Lucas"},  # sandbox: rejected
        ],
    )
    return contact_list


@pytest.fixture
def draft(sandbox, sender, customers, manager):
    campaign = Campaign.objects.create(
        name="Spring sale",
        text='Hi {{ first_name|default:"there" }}, 20% off today.',
        sender=sender,
        account=sandbox,
        created_by=manager,
    )
    campaign.lists.add(customers)
    return campaign
