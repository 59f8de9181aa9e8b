"""Pages that belong to no one app: the audit log and inbound messages."""

import functools

from django import forms
from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth import get_user_model
from django.contrib.auth.views import PasswordResetConfirmView
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST

from providers.models import InboundMessage, ProviderAccount

from . import audit, roles, users
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


# ------------------------------------------------------------------ users


class InviteForm(forms.Form):
    username = forms.CharField(
        max_length=150,
        help_text="What they sign in with, e.g. their first name or email address.",
    )
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    email = forms.EmailField(required=False, help_text="For your records; nothing is sent.")
    role = forms.ChoiceField(widget=forms.RadioSelect)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [c for c in users.role_choices() if c[0]]
        self.fields["username"].validators.append(get_user_model().username_validator)


def user_index(request):
    """People and their roles; an Admin invites someone new here."""
    roles.require(roles.can_administer, request.user)
    form = InviteForm(request.POST if request.method == "POST" else None)
    new_link, invited = "", None
    if request.method == "POST" and form.is_valid():
        try:
            invited, path = users.invite(
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                first_name=form.cleaned_data["first_name"],
                last_name=form.cleaned_data["last_name"],
                role=form.cleaned_data["role"],
                by=request.user,
            )
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                form.add_error(field, messages)
        else:
            new_link = request.build_absolute_uri(path)
            form = InviteForm()
    return _users_page(request, form=form, new_link=new_link, link_for=invited)


def _users_page(request, *, form=None, new_link="", link_for=None, status=200):
    people = list(users.people())
    for person in people:
        person.role = roles.role_of(person) or ""
        person.state = users.state_of(person)
    return render(
        request,
        "smsportal/users.html",
        {
            "form": form or InviteForm(),
            "people": people,
            "role_choices": users.role_choices(),
            "new_link": new_link,
            "link_for": link_for,
            "link_days": users.link_days(),
        },
        status=status,
    )


@require_POST
def user_role(request, pk):
    roles.require(roles.can_administer, request.user)
    person = get_object_or_404(get_user_model(), pk=pk)
    role = request.POST.get("role", "")
    try:
        users.set_role(user=person, role=role, by=request.user)
    except ValidationError as error:
        flash.error(request, " ".join(error.messages))
    else:
        label = role or "no role"
        flash.success(request, f"{person.get_username()} is now {label}.")
    return redirect("users")


@require_POST
def user_link(request, pk):
    roles.require(roles.can_administer, request.user)
    person = get_object_or_404(get_user_model(), pk=pk)
    try:
        path = users.new_sign_in_link(user=person, by=request.user)
    except ValidationError as error:
        flash.error(request, " ".join(error.messages))
        return redirect("users")
    return _users_page(request, new_link=request.build_absolute_uri(path), link_for=person)


class WelcomeView(PasswordResetConfirmView):
    """The one-time link of an invitation (or a new link an Admin made):
    the person sets a password and is signed in."""

    template_name = "registration/welcome.html"
    post_reset_login = True
    post_reset_login_backend = "django.contrib.auth.backends.ModelBackend"
    success_url = reverse_lazy("home")

    def form_valid(self, form):
        response = super().form_valid(form)
        audit.record("user.password_set", actor=self.user, obj=self.user, via="link")
        return response
