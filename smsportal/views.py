"""Pages that belong to no one app: the audit log and inbound messages."""

import functools

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.shortcuts import render

from providers.models import InboundMessage, ProviderAccount

from . import roles
from .models import AuditLogEntry

PAGE = 50


def keyset_page(queryset, request, *, size: int = PAGE):
    """One page, newest first, by id rather than OFFSET: the cost of page
    1,000 is the cost of page 1. Returns rows, the next page's URL and the
    URL of the newest page (empty on it)."""
    after = request.GET.get("after", "")
    if after.isdigit():
        queryset = queryset.filter(id__lt=int(after))
    rows = list(queryset.order_by("-id")[: size + 1])
    params = request.GET.copy()
    params.pop("after", None)
    first_url = f"?{params.urlencode()}" if after.isdigit() else ""
    next_url = ""
    if len(rows) > size:
        rows = rows[:size]
        params["after"] = rows[-1].id
        next_url = f"?{params.urlencode()}"
    return rows, next_url, first_url


class AuditFilterForm(forms.Form):
    action = forms.CharField(
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "campaign.launch"}),
        help_text="The start of an action, e.g. campaign or sender.approve.",
    )
    actor = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(), required=False, empty_label="Anyone", label="Who"
    )
    object = forms.CharField(
        required=False,
        max_length=140,
        widget=forms.HiddenInput,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["actor"].queryset = get_user_model().objects.order_by("username")

    def clean_object(self):
        value = self.cleaned_data.get("object", "")
        if value and ":" not in value:
            raise forms.ValidationError("Expected app.model:id.")
        return value

    def filter(self, queryset):
        data = self.cleaned_data
        if data.get("action"):
            queryset = queryset.filter(action__startswith=data["action"].strip())
        if data.get("actor"):
            queryset = queryset.filter(actor=data["actor"])
        if data.get("object"):
            object_type, object_id = data["object"].split(":", 1)
            queryset = queryset.filter(object_type=object_type, object_id=object_id)
        return queryset


def audit_log(request):
    """Who created, approved, launched, paused or cancelled what."""
    roles.require(roles.can_view, request.user)
    form = AuditFilterForm(request.GET or None)
    entries = AuditLogEntry.objects.select_related("actor")
    if form.is_bound and form.is_valid():
        entries = form.filter(entries)
    rows, next_url, first_url = keyset_page(entries, request)
    context = {"form": form, "rows": rows, "next_url": next_url, "first_url": first_url}
    if request.htmx and request.GET.get("part") != "page":
        return render(request, "smsportal/audit.html#results", context)
    return render(request, "smsportal/audit.html", context)


class InboundFilterForm(forms.Form):
    sender = forms.CharField(
        required=False,
        max_length=20,
        label="From",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "+49151…"}),
    )
    account = forms.ModelChoiceField(
        queryset=ProviderAccount.objects.none(),
        required=False,
        empty_label="Any provider",
        label="Provider",
    )
    opted_out = forms.BooleanField(required=False, label="Only opt-outs (STOP)")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = ProviderAccount.objects.all()

    def clean_sender(self):
        raw = self.cleaned_data.get("sender", "").strip()
        digits = "".join(ch for ch in raw if ch.isdigit())
        if raw and not digits:
            raise forms.ValidationError("Search by number uses digits, e.g. +4915 or 4915.")
        return digits

    def filter(self, queryset):
        data = self.cleaned_data
        if data.get("sender"):
            # Providers give numbers with or without the "+".
            digits = data["sender"]
            queryset = queryset.filter(
                Q(sender__startswith=f"+{digits}") | Q(sender__startswith=digits)
            )
        if data.get("account"):
            queryset = queryset.filter(account=data["account"])
        if data.get("opted_out"):
            queryset = queryset.filter(opted_out=True)
        return queryset


def inbound_messages(request):
    """Replies and keywords received from providers."""
    form = InboundFilterForm(request.GET or None)
    messages = InboundMessage.objects.select_related("account")
    if form.is_bound and form.is_valid():
        messages = form.filter(messages)
    rows, next_url, first_url = keyset_page(messages, request)
    context = {"form": form, "rows": rows, "next_url": next_url, "first_url": first_url}
    if request.htmx and request.GET.get("part") != "page":
        return render(request, "smsportal/inbound.html#results", context)
    return render(request, "smsportal/inbound.html", context)


def needs_email(view):
    """A page that sends email (password reset): off, with a page saying
    whom to ask, unless the site has email configured (EMAIL_URL)."""

    @functools.wraps(view)
    def gated(request, *args, **kwargs):
        if not settings.PASSWORD_RESET_ENABLED:
            return render(request, "registration/password_reset_off.html", status=404)
        return view(request, *args, **kwargs)

    return gated
