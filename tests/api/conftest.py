"""A finished campaign to read back, and API tokens for each kind of user."""

import pytest
from rest_framework.test import APIClient

from campaigns import services as campaign_services
from smsportal import tokens


@pytest.fixture(autouse=True)
def generous_rate_limit(settings):
    # Tests that are about the limit lower it themselves.
    settings.API_RATE_LIMIT = "100000/minute"


@pytest.fixture
def sent(draft, manager, django_capture_on_commit_callbacks):
    """The draft launched and delivered by the sandbox (tasks run in-process)."""
    with django_capture_on_commit_callbacks(execute=True):
        campaign_services.campaign_launch(campaign=draft, user=manager)
    draft.refresh_from_db()
    return draft


@pytest.fixture
def analyst_token(analyst):
    return tokens.token_create(user=analyst, name="Warehouse")[1]


@pytest.fixture
def api(analyst_token):
    """A client authenticated with an analyst's token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {analyst_token}")
    return client
