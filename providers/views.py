import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages as flash
from django.db import transaction
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from smsportal import audit, roles

from . import registry, segments, services
from .base import ProviderError
from .forms import ProviderAccountForm
from .models import ProviderAccount, RateCardEntry


def account_index(request):
    return render(
        request,
        "providers/accounts.html",
        {
            "accounts": ProviderAccount.objects.select_related("fallback").annotate(
                rate_count=Count("rates")
            ),
            "kinds": registry.CHOICES,
        },
    )


def account_edit(request, pk=None):
    roles.require(roles.can_administer, request.user)
    account = get_object_or_404(ProviderAccount, pk=pk) if pk else None
    kind = account.kind if account else request.GET.get("kind") or request.POST.get("kind")
    if kind not in registry.BACKENDS:
        kind = "sandbox"
    post = request.method == "POST"
    form = ProviderAccountForm(
        request.POST if post else None,
        request.FILES if post else None,
        instance=account,
        kind=kind,
    )
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            saved = form.save(commit=False)
            saved.kind = kind
            saved.credentials = form.credentials()
            saved.options = form.options()
            # Credentials or the base URL may have changed: what the provider
            # did not offer before is tried again.
            saved.switched_off = {}
            saved.save()
            saved.rates.all().delete()
            RateCardEntry.objects.bulk_create(
                RateCardEntry(account=saved, country=c, price=p)
                for c, p in form.cleaned_data["rate_card"].items()
            )
            audit.record(
                "provider.edit" if account else "provider.create",
                actor=request.user,
                obj=saved,
                credentials_changed=any(
                    form.cleaned_data.get(f) for f in form.fields if f.startswith("cred_")
                ),
            )
        flash.success(request, f"Saved provider account “{saved}”.")
        return redirect("providers:edit", pk=saved.pk)
    return render(
        request,
        "providers/account_edit.html",
        {
            "form": form,
            "account": account,
            "kind": kind,
            "kind_label": dict(registry.CHOICES)[kind],
            # Less what the provider turned out not to offer this account.
            "capabilities": account.capabilities
            if account
            else registry.backend_class(kind).capabilities,
            "masked": account.masked_credentials() if account else {},
            "webhook_warning": webhook_warning(),
        },
        status=400 if post else 200,
    )


def webhook_warning() -> str:
    """Why a provider may not reach the webhook URLs we show, if it may not."""
    url = settings.PUBLIC_BASE_URL
    host = (urlsplit(url).hostname or "").lower()
    where = _unreachable(host)
    if where:
        return (
            f"A provider cannot reach these webhook URLs: {host} is {where}. Set "
            "PUBLIC_BASE_URL to the address providers reach this site at (e.g. "
            "https://sms.example.com), or reports and replies never arrive."
        )
    if not settings.PUBLIC_BASE_URL_SET:
        return (
            f"PUBLIC_BASE_URL is not set: these webhook URLs use the address this server "
            f"listens on ({url}). A provider reaches them only if that address is reachable "
            "from the internet; set PUBLIC_BASE_URL to the address providers reach this site at."
        )
    return ""


def _unreachable(host: str) -> str:
    if host == "localhost" or host.endswith(".localhost"):
        return "this machine (loopback)"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return ""
    if address.is_loopback:
        return "this machine (loopback)"
    if address.is_unspecified:
        return "no address (it means every interface of this machine)"
    if address.is_private or address.is_link_local:
        return "a private network address"
    return ""


@require_POST
def account_check(request, pk):
    roles.require(roles.can_administer, request.user)
    account = get_object_or_404(ProviderAccount, pk=pk)
    found = services.check_connection(account)
    audit.record("provider.check", actor=request.user, obj=account, ok=found.ok, state=found.state)
    html = format_html('<span class="{}">{}</span>', CHECK_CLASSES[found.state], found.text)
    if request.htmx:
        return HttpResponse(html)
    say = {"ok": flash.success, "unverified": flash.warning}.get(found.state, flash.error)
    say(request, f"{account}: {found.text}")
    return redirect("providers:accounts")


CHECK_CLASSES = {"ok": "text-success", "unverified": "text-warning", "failed": "text-danger"}

# The longest text the composer takes.
MAX_PREVIEW_TEXT = segments.MAX_TEXT_CHARS


@require_POST
def account_preview(request, pk):
    """The provider's own count of a text's parts ("Check with Infobip" in
    the composer), beside ours; answered in place."""
    roles.require(roles.can_send, request.user)
    account = get_object_or_404(ProviderAccount, pk=pk)
    text = request.POST.get("text", "")[:MAX_PREVIEW_TEXT]
    if request.POST.get("keep_gsm7"):
        text = segments.to_gsm7(text)
    context = {"account": account, "ours": segments.count(text), "text": text}
    if not text.strip():
        context["problem"] = "Type the message first."
    elif not account.capabilities.preview:
        context["problem"] = f"{account.backend_class.label} has no preview of its own."
    else:
        try:
            answer = account.backend().preview(text)
        except ProviderError as error:
            context["problem"] = f"No answer: {services.describe(error)}"
        else:
            previews = answer.get("previews")
            first = previews[0] if isinstance(previews, list) and previews else {}
            context["theirs"] = first if isinstance(first, dict) else {}
            if not isinstance(context["theirs"].get("messageCount"), int):
                context["problem"] = "Its answer gave no part count."
    return render(request, "providers/_preview.html", context)
