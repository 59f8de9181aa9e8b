from datetime import timedelta

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Sum
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseClientRefresh

from contacts.phones import InvalidNumber
from providers.status import Status
from smsportal import roles
from smsportal.models import AuditLogEntry

from . import compose, selectors, services
from .forms import CampaignForm, DeliveryWindowForm, SenderForm, TestSendForm
from .models import Campaign, CampaignCounter, DeliveryWindow, Message, SenderID


def home(request):
    active = list(
        Campaign.objects.filter(state__in=["running", "scheduled", "paused"]).select_related(
            "account"
        )[:20]
    )
    recent = list(Campaign.objects.select_related("account")[:10])
    counts = selectors.campaign_counts([c.pk for c in {*active, *recent}])
    for c in {*active, *recent}:
        c.counts = counts[c.pk]
    totals = CampaignCounter.objects.aggregate(est=Sum("estimated_cost"), act=Sum("actual_cost"))
    by_status = dict(
        CampaignCounter.objects.values_list("status")
        .annotate(n=Sum("count"))
        .values_list("status", "n")
    )
    sent = sum(by_status.get(s, 0) for s in selectors.SENT)
    finished = sent - by_status.get(Status.ACCEPTED, 0)
    return render(
        request,
        "campaigns/home.html",
        {
            "active": active,
            "recent": recent,
            "sent": sent,
            "delivered": by_status.get(Status.DELIVERED, 0),
            "delivery_rate": by_status.get(Status.DELIVERED, 0) / finished if finished else None,
            "actual_cost": totals["act"] or 0,
        },
    )


def campaign_index(request):
    campaigns = list(Campaign.objects.select_related("account", "sender")[:200])
    counts = selectors.campaign_counts([c.pk for c in campaigns])
    for c in campaigns:
        c.counts = counts[c.pk]
    return render(request, "campaigns/index.html", {"campaigns": campaigns})


def campaign_edit(request, pk=None):
    roles.require(roles.can_send, request.user)
    campaign = get_object_or_404(Campaign, pk=pk) if pk else None
    if campaign and not campaign.is_editable:
        flash.error(request, "Only a draft can be edited.")
        return redirect("campaigns:detail", pk=campaign.pk)
    form = CampaignForm(request.POST if request.method == "POST" else None, instance=campaign)
    if request.method == "POST" and form.is_valid():
        created = campaign is None
        campaign = form.save(commit=False)
        if created:
            campaign.created_by = request.user
        campaign.save()
        form.save_m2m()
        services.audit.record(
            "campaign.create" if created else "campaign.edit", actor=request.user, obj=campaign
        )
        flash.success(request, f"Saved “{campaign}” as a draft.")
        return redirect("campaigns:detail", pk=campaign.pk)
    return render(request, "campaigns/edit.html", {"form": form, "campaign": campaign})


def _detail_context(campaign):
    counts = selectors.campaign_counts([campaign.pk])[campaign.pk]
    awaiting_reports = counts.get(Status.ACCEPTED) + counts.get(Status.SENDING)
    recently_done = campaign.completed_at and timezone.now() - campaign.completed_at < timedelta(
        days=1
    )
    return {
        "campaign": campaign,
        "counts": counts,
        # Keep refreshing while it sends, and while reports still come in.
        "live": campaign.is_active or bool(awaiting_reports and recently_done),
        "recent": Message.objects.filter(campaign=campaign).order_by("-id")[:25],
        "errors": (
            Message.objects.filter(campaign=campaign)
            .exclude(error_description="")
            .values("status", "error_description")
            .annotate(n=Count("id"))
            .order_by("-n")[:10]
        ),
        "audit": AuditLogEntry.objects.filter(
            object_type="campaigns.campaign", object_id=str(campaign.pk)
        ).select_related("actor")[:20],
    }


def campaign_detail(request, pk):
    campaign = get_object_or_404(Campaign.objects.select_related("account", "sender"), pk=pk)
    context = _detail_context(campaign)
    if campaign.is_editable:
        context["check"] = compose.check(campaign)
        context["preview"] = compose.preview(campaign)
        context["test_form"] = TestSendForm()
    if request.htmx and request.GET.get("part") == "progress":
        if request.GET.get("state") != campaign.state:
            # The state changed (e.g. completed): the actions change too.
            return HttpResponseClientRefresh()
        return render(request, "campaigns/detail.html#progress", context)
    return render(request, "campaigns/detail.html", context)


def _action(request, pk, action):
    roles.require(roles.can_send, request.user)
    campaign = get_object_or_404(Campaign, pk=pk)
    try:
        result = action(campaign)
    except services.CampaignError as error:
        flash.error(request, str(error))
    else:
        if result:
            flash.success(request, result)
    url = reverse("campaigns:detail", args=[pk])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@require_POST
def campaign_launch(request, pk):
    def launch(campaign):
        campaign = services.campaign_launch(campaign=campaign, user=request.user)
        if campaign.state == Campaign.State.SCHEDULED:
            when = timezone.localtime(campaign.scheduled_at)
            return f"Scheduled for {when:%Y-%m-%d %H:%M}."
        return "Launched: the workers are sending it now."

    return _action(request, pk, launch)


@require_POST
def campaign_pause(request, pk):
    return _action(
        request,
        pk,
        lambda c: services.campaign_pause(campaign=c, user=request.user) and "Paused.",
    )


@require_POST
def campaign_resume(request, pk):
    return _action(
        request,
        pk,
        lambda c: services.campaign_resume(campaign=c, user=request.user) and "Resumed.",
    )


@require_POST
def campaign_cancel(request, pk):
    def cancel(campaign):
        n = services.campaign_cancel(campaign=campaign, user=request.user)
        return f"Cancelled; {n} message(s) will not be sent."

    return _action(request, pk, cancel)


@require_POST
def campaign_test_send(request, pk):
    roles.require(roles.can_send, request.user)
    campaign = get_object_or_404(Campaign, pk=pk)
    form = TestSendForm(request.POST)
    if form.is_valid():
        try:
            message = services.test_send(
                campaign=campaign,
                phone=form.cleaned_data["phone"],
                default_region=form.cleaned_data.get("country") or "",
                user=request.user,
            )
        except (services.CampaignError, InvalidNumber) as error:
            form.add_error(None, str(error))
        else:
            flash.success(
                request,
                f"Test sent to {message.phone}: {message.get_status_display()}"
                + (f" — {message.error_description}" if message.error_description else ""),
            )
            return redirect("campaigns:detail", pk=pk)
    context = _detail_context(campaign)
    context.update(test_form=form, check=compose.check(campaign), preview=compose.preview(campaign))
    return render(request, "campaigns/detail.html", context, status=400)


STATUS_FILTERS = [("", "Any status"), *Status.choices]


def message_log(request):
    qs = Message.objects.select_related("campaign", "account")
    campaign_id = request.GET.get("campaign", "")
    status = request.GET.get("status", "")
    phone = request.GET.get("phone", "").strip()
    errors = []
    if campaign_id:
        if campaign_id.isdigit():
            qs = qs.filter(campaign_id=int(campaign_id))
        else:
            errors.append("The campaign filter must be a campaign.")
    if status:
        if status in Status.values:
            qs = qs.filter(status=status)
        else:
            errors.append(f"“{status}” is not a status.")
    if phone:
        digits = "".join(ch for ch in phone if ch.isdigit())
        if digits:
            qs = qs.filter(phone__startswith="+" + digits)
        else:
            errors.append("Search by number uses digits, e.g. +4915 or 4915.")
    after = request.GET.get("after", "")
    rows, next_after = selectors.message_page(qs, after=int(after) if after.isdigit() else None)
    params = request.GET.copy()
    if next_after:
        params["after"] = next_after
    context = {
        "rows": rows,
        "next_url": f"?{params.urlencode()}" if next_after else "",
        "errors": errors,
        "statuses": STATUS_FILTERS,
        "campaigns": Campaign.objects.only("id", "name")[:500],
        "filters": {"campaign": campaign_id, "status": status, "phone": phone},
    }
    if request.htmx:
        return render(request, "campaigns/messages.html#results", context)
    return render(request, "campaigns/messages.html", context)


def message_detail(request, pk):
    message = get_object_or_404(Message.objects.select_related("campaign", "account"), pk=pk)
    return render(
        request,
        "campaigns/message.html",
        {"message": message, "events": message.events.all()},
    )


def sender_index(request):
    form = SenderForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        roles.require(roles.can_send, request.user)
        if form.is_valid():
            sender = form.save(commit=False)
            sender.requested_by = request.user
            sender.save()
            form.save_m2m()
            services.audit.record("sender.request", actor=request.user, obj=sender)
            flash.success(request, f"Sender ID {sender} requested; an Admin approves it.")
            return redirect("campaigns:senders")
    senders = SenderID.objects.prefetch_related("accounts")
    return render(request, "campaigns/senders.html", {"form": form, "senders": senders})


@require_POST
def sender_decide(request, pk):
    if not roles.can_administer(request.user):
        raise PermissionDenied("Only an Admin approves sender IDs.")
    sender = get_object_or_404(SenderID, pk=pk)
    approve = request.POST.get("decision") == "approve"
    services.sender_decide(sender=sender, user=request.user, approve=approve)
    flash.success(request, f"Sender ID {sender} {'approved' if approve else 'rejected'}.")
    return redirect("campaigns:senders")


def window_index(request):
    form = DeliveryWindowForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        roles.require(roles.can_send, request.user)
        if form.is_valid():
            window = form.save()
            flash.success(request, f"Delivery window “{window}”: {window.summary()}.")
            return redirect("campaigns:windows")
    return render(
        request, "campaigns/windows.html", {"form": form, "windows": DeliveryWindow.objects.all()}
    )


@login_not_required
def healthz(request):
    return HttpResponse("ok", content_type="text/plain")
