"""Security settings and checks: sign-in throttling, the Content Security
Policy, the deploy checklist, and the audit of sensitive actions."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from smsportal.models import AuditLogEntry
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.django_db


def test_sign_in_is_locked_after_repeated_failures(client, manager, settings):
    settings.AXES_FAILURE_LIMIT = 3
    url = reverse("login")
    for _ in range(3):
        response = client.post(url, {"username": "mona", "password": "wrong"})
    assert response.status_code == 429
    assert "Too many sign-in attempts" in response.content.decode()
    # Even the right password is refused while locked.
    response = client.post(url, {"username": "mona", "password": PASSWORD})
    assert response.status_code == 429
    assert AuditLogEntry.objects.filter(action="user.login_failed").count() >= 3


def test_a_good_sign_in_is_audited(client, manager):
    response = client.post(reverse("login"), {"username": "mona", "password": PASSWORD})
    assert response.status_code == 302
    assert AuditLogEntry.objects.filter(action="user.login", actor=manager).exists()


def test_role_changes_are_audited(manager):
    manager.groups.add(Group.objects.get_or_create(name="Analyst")[0])
    entry = AuditLogEntry.objects.filter(action="role.add", object_id=str(manager.pk)).first()
    assert entry is not None and entry.details["roles"] == ["Analyst"]


def test_pages_carry_a_strict_content_security_policy(client, manager):
    client.force_login(manager)
    policy = client.get(reverse("home"))["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy


def test_no_page_template_has_inline_script_or_style():
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        text = re.sub(r"{% comment %}.*?{% endcomment %}", "", path.read_text(), flags=re.S)
        for needle in ("<script>", "<style", ' style="', " onclick=", " onchange=", " onsubmit="):
            if needle in text:
                offenders.append(f"{path.relative_to(ROOT)}: {needle.strip()}")
    assert offenders == []


def env_example() -> dict[str, str]:
    """The documented production configuration: every setting .env.example
    gives a value (commented-out lines are alternatives, not values)."""
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def test_the_deploy_checklist_passes_with_the_documented_production_settings(tmp_path):
    documented = env_example()
    assert documented["DEBUG"] == "false" and documented["SECURE_SSL_REDIRECT"] == "true"
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if k != "DJANGO_ALLOW_ASYNC_UNSAFE" and k not in documented
        },
        **{k: v for k, v in documented.items() if v},
        "DJANGO_SETTINGS_MODULE": "smsportal.settings",
        # What an operator must choose: a real secret, host and key.
        "SECRET_KEY": "x" * 20 + "q7#Lm2$vP9!zR4&kW8^bN1*cT6@hY3%dF5" + "y" * 20,
        "ALLOWED_HOSTS": "sms.example.com",
        "CREDENTIALS_KEYS": "uG0y3bsKXQfJ3o6dL2lW1cQW8Jt2sWcY3r0t4VJ8c2E=",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output
