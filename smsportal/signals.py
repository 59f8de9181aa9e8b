"""Sensitive events that happen outside our services, written to the audit
log: sign-ins (and failed ones), and role changes however they are made."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed
from django.dispatch import receiver

from . import audit


def _ip(request):
    return request.META.get("REMOTE_ADDR", "") if request is not None else ""


@receiver(user_logged_in)
def on_login(sender, request, user, **kwargs):
    audit.record("user.login", actor=user, obj=user, ip=_ip(request))


@receiver(user_logged_out)
def on_logout(sender, request, user, **kwargs):
    if user is not None:
        audit.record("user.logout", actor=user, obj=user, ip=_ip(request))


@receiver(user_login_failed)
def on_login_failed(sender, credentials, request=None, **kwargs):
    # Only the username: never the password that was tried.
    audit.record(
        "user.login_failed", username=str(credentials.get("username", ""))[:150], ip=_ip(request)
    )


@receiver(m2m_changed, sender=get_user_model().groups.through)
def on_roles_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    names = sorted(Group.objects.filter(pk__in=pk_set or []).values_list("name", flat=True))
    if reverse:  # group.user_set changed: instance is the group
        audit.record(f"role.{action[5:]}", obj=instance, users=sorted(pk_set or []))
    else:
        audit.record(f"role.{action[5:]}", obj=instance, roles=names)
