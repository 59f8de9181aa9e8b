from django.contrib import messages as flash
from django.db import transaction
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from smsportal import audit, roles

from . import registry, services
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
            "capabilities": registry.backend_class(kind).capabilities,
            "masked": account.masked_credentials() if account else {},
        },
        status=400 if post else 200,
    )


@require_POST
def account_check(request, pk):
    roles.require(roles.can_administer, request.user)
    account = get_object_or_404(ProviderAccount, pk=pk)
    ok, text = services.check_connection(account)
    audit.record("provider.check", actor=request.user, obj=account, ok=ok)
    html = format_html('<span class="{}">{}</span>', "text-success" if ok else "text-danger", text)
    if request.htmx:
        return HttpResponse(html)
    (flash.success if ok else flash.error)(request, f"{account}: {text}")
    return redirect("providers:accounts")
