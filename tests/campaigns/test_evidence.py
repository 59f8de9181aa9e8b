"""What providers said, readable: payloads on a message page as indented
JSON, whatever the provider sent."""

import pytest
from django.urls import reverse

from campaigns.models import MessageEvent
from smsportal.templatetags.payloads import pretty_json

pytestmark = pytest.mark.django_db


def test_a_payload_is_indented_json_not_a_python_dict():
    payload = {"results": [{"messageId": "m-1", "status": {"groupName": "DELIVERED"}}]}
    assert pretty_json(payload) == (
        '{\n  "results": [\n    {\n      "messageId": "m-1",\n'
        '      "status": {\n        "groupName": "DELIVERED"\n      }\n    }\n  ]\n}'
    )
    assert pretty_json('{"a": "Köln"}') == '{\n  "a": "Köln"\n}'
    assert pretty_json("<report id='1'/>") == "<report id='1'/>"


def test_the_message_page_shows_payloads_as_json(
    manager_client, draft, manager, django_capture_on_commit_callbacks
):
    from campaigns import services

    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_launch(campaign=draft, user=manager)
    event = MessageEvent.objects.filter(message__campaign=draft, kind="report").first()
    page = manager_client.get(
        reverse("campaigns:message", args=[event.message_id])
    ).content.decode()
    assert '<pre class="payload" data-payload>{\n  &quot;' in page
    assert "{&#x27;" not in page
