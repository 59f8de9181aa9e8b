"""Every URL, tried as anonymous, a user with no role, an analyst, a campaign
manager and an admin, for GET and POST: who gets in and who is refused.

A new URL fails this test until it is given its policy here, so nothing is
added without deciding who may use it."""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.conftest import make_user

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "outsider", "analyst", "manager", "admin")
# Who is let in, by level.
LEVELS = {
    "public": set(ROLES),
    "signed_in": {"outsider", "analyst", "manager", "admin"},
    "view": {"analyst", "manager", "admin"},
    "send": {"manager", "admin"},
    "export": {"analyst", "admin"},
    "admin": {"admin"},
    "none": set(),
}

# name: (level for GET, level for POST)
POLICY = {
    "home": ("view", "view"),
    "healthz": ("public", "public"),
    "audit": ("view", "view"),
    "inbound": ("view", "view"),
    "users": ("admin", "admin"),
    "user_role": ("none", "admin"),
    "user_link": ("none", "admin"),
    # The one-time link of an invitation: whoever holds it, signed in or not.
    "welcome": ("public", "public"),
    "login": ("public", "public"),
    "password_change": ("signed_in", "signed_in"),
    "password_change_done": ("signed_in", "none"),
    "password_reset": ("public", "public"),
    "password_reset_done": ("public", "none"),
    "password_reset_confirm": ("public", "public"),
    "password_reset_complete": ("public", "none"),
    "api:campaign-list": ("view", "none"),
    "api:campaign-detail": ("view", "none"),
    "api:message-list": ("view", "none"),
    "api:message-detail": ("view", "none"),
    "api:contact-list": ("view", "none"),
    "api:contact-detail": ("view", "none"),
    "api:list-list": ("view", "none"),
    "api:list-detail": ("view", "none"),
    "api:list-contacts": ("view", "none"),
    "api:suppression-list": ("view", "none"),
    "api:suppression-detail": ("view", "none"),
    "api:click-list": ("view", "none"),
    "api:click-detail": ("view", "none"),
    # The one write: a token with the permission only, never a session
    # (tests/api/test_conversions.py).
    "api:conversions": ("none", "none"),
    "api:report-cost": ("view", "none"),
    "api:report-delivery": ("view", "none"),
    "api:schema": ("view", "none"),
    "api:docs": ("view", "view"),
    # Everyone who reads may see the page; only Admins and Analysts get tokens.
    "api_tokens:index": ("view", "export"),
    "api_tokens:revoke": ("none", "export"),
    "contacts:lists": ("view", "send"),
    "contacts:list": ("view", "send"),
    "contacts:list_edit": ("send", "send"),
    "contacts:list_delete": ("none", "send"),
    "contacts:list_remove": ("none", "send"),
    "contacts:list_export": ("view", "view"),
    "contacts:import_new": ("send", "send"),
    "contacts:import": ("view", "send"),
    "contacts:import_restart": ("none", "send"),
    "contacts:import_errors": ("view", "view"),
    "contacts:contacts": ("view", "view"),
    "contacts:contact": ("view", "view"),
    "contacts:contact_consent": ("none", "send"),
    "contacts:contact_edit": ("send", "send"),
    "contacts:segments": ("view", "view"),
    "contacts:segment_create": ("send", "send"),
    "contacts:segment_preview": ("none", "send"),
    "contacts:segment": ("view", "send"),
    "contacts:segment_edit": ("send", "send"),
    "contacts:segment_delete": ("none", "send"),
    "contacts:segment_to_list": ("none", "send"),
    "contacts:segment_export": ("view", "view"),
    "contacts:suppressions": ("view", "send"),
    "contacts:suppression_remove": ("none", "send"),
    "contacts:suppression_export": ("view", "view"),
    "campaigns:index": ("view", "view"),
    "campaigns:create": ("send", "send"),
    "campaigns:preview": ("none", "send"),
    "campaigns:detail": ("view", "view"),
    "campaigns:edit": ("send", "send"),
    "campaigns:edit_preview": ("none", "send"),
    "campaigns:launch": ("none", "send"),
    "campaigns:pause": ("none", "send"),
    "campaigns:resume": ("none", "send"),
    "campaigns:cancel": ("none", "send"),
    "campaigns:ab_pick": ("none", "send"),
    "campaigns:test_send": ("none", "send"),
    "campaigns:clone": ("none", "send"),
    "campaigns:report_export": ("view", "view"),
    "campaigns:messages": ("view", "view"),
    "campaigns:message": ("view", "view"),
    "campaigns:messages_export": ("view", "view"),
    "campaigns:senders": ("view", "send"),
    "campaigns:sender_decide": ("none", "admin"),
    "campaigns:dlt": ("view", "send"),
    "campaigns:dlt_decide": ("none", "admin"),
    "campaigns:dlt_test": ("none", "view"),
    "campaigns:windows": ("view", "send"),
    "campaigns:window_summary": ("none", "view"),
    "campaigns:window_edit": ("send", "send"),
    "campaigns:window_delete": ("none", "send"),
    # The conversion pixel: any browser, signed in or not.
    "campaigns:pixel": ("public", "none"),
    "providers:accounts": ("view", "view"),
    "providers:create": ("admin", "admin"),
    "providers:edit": ("admin", "admin"),
    "providers:check": ("none", "admin"),
    "providers:preview": ("none", "send"),
}
# Tested on their own (tests/providers/test_webhooks.py, tests/api/).
SKIP = {"providers:webhook", "providers:webhook_event", "api:?", "logout"}


def url_names(resolver=None, namespace=None):
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                continue
            yield from url_names(pattern, pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield (f"{namespace}:" if namespace else "") + pattern.name, pattern


def url_for(name, pattern):
    """The URL with made-up ids: a refused user is refused before the object
    is looked up, an allowed one gets 404 (so nothing is changed either)."""
    kwargs = {}
    for arg in re.findall(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>", str(pattern.pattern)):
        key = arg[0] or arg[1]
        kwargs[key] = {"uidb64": "MQ", "token": "set-password"}.get(key, "999999")
    return reverse(name, kwargs=kwargs)


def test_every_url_has_a_policy():
    names = {name for name, _ in url_names()} - SKIP
    assert names - set(POLICY) == set(), "give these URLs a policy"
    assert set(POLICY) - names == set(), "these URLs no longer exist"


def refused(response) -> bool:
    # 405: that method does nothing there, for anyone.
    if response.status_code in (401, 403, 405):
        return True
    return response.status_code == 302 and "/accounts/login/" in response.get("Location", "")


@pytest.fixture
def users(db):
    return {
        "anonymous": None,
        "outsider": make_user("oscar"),
        "analyst": make_user("andy", "Analyst"),
        "manager": make_user("mona", "Campaign manager"),
        "admin": make_user("alice", "Admin", is_staff=True),
    }


@pytest.mark.parametrize("method", ["get", "post"])
def test_every_url_lets_in_exactly_who_it_should(client, users, method):
    wrong = []
    for name, pattern in url_names():
        if name in SKIP:
            continue
        level = POLICY[name][0 if method == "get" else 1]
        url = url_for(name, pattern)
        for role in ROLES:
            client.logout()
            if users[role] is not None:
                client.force_login(users[role])
            response = getattr(client, method)(url)
            if role in LEVELS[level]:
                ok = not refused(response)
            else:
                # Refused, or (for a made-up id) nothing there to act on.
                ok = refused(response) or response.status_code == 404
            if not ok:
                wrong.append(f"{method.upper()} {url} as {role}: {response.status_code}")
    assert wrong == [], "\n".join(wrong)
