"""Users and roles without the Django admin: an Admin invites someone with a
role and gets a one-time link (no email needed); on it the person sets a
password and is signed in; roles change on the same page, with guards
against locking the site out."""

import re

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.urls import reverse

from smsportal import roles, users
from smsportal.models import AuditLogEntry
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def invite(client, **extra):
    data = {"username": "nora", "first_name": "Nora", "role": roles.ANALYST, **extra}
    return client.post(reverse("users"), data)


def link_in(response) -> str:
    return re.search(r'id="sign-in-link"[^>]*value="([^"]+)"', response.content.decode())[1]


def test_an_admin_invites_someone_who_sets_a_password_once(client, admin_user):
    client.force_login(admin_user)
    link = link_in(invite(client))
    nora = User.objects.get(username="nora")
    assert not nora.has_usable_password() and roles.role_of(nora) == roles.ANALYST
    assert not nora.is_staff
    assert AuditLogEntry.objects.filter(action="user.invite", object_id=str(nora.pk)).exists()

    client.logout()
    opened = client.get(link, follow=True)
    assert "Welcome, Nora" in opened.content.decode()
    form_url = opened.redirect_chain[-1][0]
    response = client.post(
        form_url,
        {"new_password1": "a long new passphrase 42", "new_password2": "a long new passphrase 42"},
    )
    assert response.status_code == 302 and response.url == reverse("home")
    assert client.get(reverse("home")).status_code == 200  # signed in, with her role
    nora.refresh_from_db()
    assert nora.check_password("a long new passphrase 42")
    client.logout()
    assert "This link no longer works" in client.get(link, follow=True).content.decode()


def test_a_username_is_not_given_twice(client, admin_user, manager):
    client.force_login(admin_user)
    response = invite(client, username="MONA")
    assert "There is already a user called “MONA”." in response.content.decode()
    assert User.objects.filter(username__iexact="mona").count() == 1


def test_roles_change_on_the_page_and_are_audited(client, admin_user, manager):
    client.force_login(admin_user)
    client.post(reverse("user_role", args=[manager.pk]), {"role": roles.ANALYST})
    manager = User.objects.get(pk=manager.pk)
    assert roles.role_of(manager) == roles.ANALYST
    assert AuditLogEntry.objects.filter(action="role.add", object_id=str(manager.pk)).exists()
    client.post(reverse("user_role", args=[manager.pk]), {"role": roles.ADMIN})
    manager = User.objects.get(pk=manager.pk)
    # Admins also work in the Django admin.
    assert roles.role_of(manager) == roles.ADMIN and manager.is_staff and manager.is_superuser
    client.post(reverse("user_role", args=[manager.pk]), {"role": ""})
    manager = User.objects.get(pk=manager.pk)
    assert roles.role_of(manager) is None and not manager.is_superuser


def test_nobody_changes_their_own_role_or_removes_the_last_admin(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        reverse("user_role", args=[admin_user.pk]), {"role": roles.ANALYST}, follow=True
    )
    assert "You cannot change your own role" in response.content.decode()
    assert roles.role_of(User.objects.get(pk=admin_user.pk)) == roles.ADMIN

    olga = make_user("olga", roles.ADMIN)
    users.set_role(user=User.objects.get(pk=admin_user.pk), role=roles.ANALYST, by=olga)
    # Now Olga is the only Admin left.
    with pytest.raises(ValidationError, match="olga is the only Admin"):
        users.set_role(user=olga, role=roles.ANALYST, by=admin_user)
    assert roles.role_of(User.objects.get(pk=olga.pk)) == roles.ADMIN


def test_a_superuser_demoted_loses_the_admin_role(client, admin_user):
    boss = User.objects.create_superuser("boss", "boss@example.com", "x")
    client.force_login(admin_user)
    client.post(reverse("user_role", args=[boss.pk]), {"role": roles.MANAGER})
    boss = User.objects.get(pk=boss.pk)
    assert roles.role_of(boss) == roles.MANAGER and not boss.is_superuser


def test_a_new_link_ends_the_old_password(client, admin_user, manager):
    client.force_login(admin_user)
    response = client.post(reverse("user_link", args=[manager.pk]))
    assert "/accounts/welcome/" in link_in(response)
    manager.refresh_from_db()
    assert not manager.has_usable_password()
    assert users.state_of(manager) == "Invited"


def test_only_admins_see_the_page(client, manager):
    client.force_login(manager)
    assert client.get(reverse("users")).status_code == 403
    assert (
        client.post(reverse("user_role", args=[manager.pk]), {"role": "Admin"}).status_code == 403
    )
    assert roles.role_of(User.objects.get(pk=manager.pk)) == roles.MANAGER
