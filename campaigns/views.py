import json
from datetime import timedelta

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseClientRefresh

from providers import segments
from providers.status import Status
from smsportal import roles
from smsportal.models import AuditLogEntry
from smsportal.percent import percent_value
from smsportal.phones import InvalidNumber

from . import abtest, compose, conversions, engagement, exports, links, selectors, services
from .forms import (
    CampaignForm,
    DeliveryWindowForm,
    DLTTemplateForm,
    DLTTestForm,
    MessageFilterForm,
    SenderForm,
    TestSendForm,
)
from .models import Approval, Campaign, DeliveryWindow, DLTTemplate, Message, SenderID

ACTIVE = (Campaign.State.RUNNING, Campaign.State.SCHEDULED, Campaign.State.PAUSED)


def _chart(config: dict) -> str:
    return json.dumps(config, cls=DjangoJSONEncoder)


def _label(at, unit: str) -> str:
    """A chart's label for the minute, hour (in the reader's zone) or UTC
    day starting at ``at``."""
    if unit == "day":
        return f"{at:%d %b}"
    local = timezone.localtime(at)
    return f"{local:%H:%M}" if unit == "minute" else f"{local:%a %H:00}"


def _daily_charts(by_day, unit: str = "day") -> dict:
    """Chart.js configs for sends, delivery rate and cost per day (or per
    minute or hour: ``unit``)."""
    labels = [_label(at, unit) for at, *_ in by_day]
    rates = [percent_value(d, f) for _, _, d, f, _ in by_day]
    return {
        "sends_chart": _chart(
            {
                "type": "bar",
                "data": {
                    "labels": labels,
                    "datasets": [
                        {"label": "Sent", "data": [s for _, s, *_ in by_day]},
                        {"label": "Delivered", "data": [d for _, _, d, *_ in by_day]},
                    ],
                },
            }
        ),
        "rate_chart": _chart(
            {
                # A line needs two points with a rate: a campaign of a
                # minute, or a month with one day of reports, has one, and
                # a lone point on a line is a dot hard to see.
                "type": "line" if sum(rate is not None for rate in rates) > 1 else "bar",
                "data": {
                    "labels": labels,
                    "datasets": [{"label": "Delivery rate %", "data": rates, "spanGaps": True}],
                },
                "options": {"scales": {"y": {"min": 0, "max": 100}}},
            }
        ),
        "cost_chart": _chart(
            {
                "type": "bar",
                "data": {
                    "labels": labels,
                    "datasets": [{"label": "Cost", "data": [float(c) for *_, c in by_day]}],
                },
            }
        ),
    }


def _with_counts(campaigns, *, waiting: bool = True):
    """The campaigns with their counts, cost estimate and (``waiting``)
    what each launched one waits for."""
    counts = selectors.campaign_counts([c.pk for c in campaigns])
    now = timezone.now()
    for c in campaigns:
        c.counts = counts[c.pk]
        c.estimate = selectors.cost_estimate(c, c.counts)
        launched = waiting and c.launched_at
        c.waiting = selectors.campaign_waiting(c, c.counts, now=now) if launched else []
    return campaigns


def home(request):
    today = timezone.now().date()
    month_start = today.replace(day=1)
    since = min(month_start, today - timedelta(days=29))
    period = selectors.rollup(since=since)
    days = {day: rest for day, *rest in period.by_day}
    chart_days = [
        (day, *days.get(day, (0, 0, 0, 0)))
        for day in (today - timedelta(days=n) for n in range(29, -1, -1))
    ]
    month = [rest for day, *rest in period.by_day if day >= month_start]
    month_finished = sum(r[2] for r in month)
    context = {
        "today": days.get(today, (0, 0, 0, 0)),
        "month_sent": sum(r[0] for r in month),
        "month_delivered": sum(r[1] for r in month),
        "month_finished": month_finished,
        "month_cost": sum((r[3] for r in month), 0),
        # Costs add up in one currency only: where every account uses the
        # same one, the totals are shown in it.
        "cost_currency": selectors.single_currency(),
        "by_account": period.by_account,
        "provider_chart": _chart(
            {
                "type": "doughnut",
                "data": {
                    "labels": [f"{name} ({cur})" for name, cur, *_ in period.by_account],
                    "datasets": [
                        {"label": "Cost", "data": [float(a) for *_, a, _ in period.by_account]}
                    ],
                },
            }
        ),
        **_daily_charts(chart_days),
        **_active_context(),
        "recent": _with_counts(list(Campaign.objects.select_related("account")[:8]), waiting=False),
        "has_lists": _has_lists(),
        "first_steps": selectors.first_steps(
            can_send=roles.can_send(request.user), can_administer=roles.can_administer(request.user)
        ),
    }
    if request.htmx and request.GET.get("part") == "active":
        return render(request, "campaigns/home.html#active", context)
    return render(request, "campaigns/home.html", context)


def _active_context() -> dict:
    active = list(
        Campaign.objects.filter(state__in=ACTIVE).select_related("account", "window")[:20]
    )
    return {"active": _with_counts(active)}


def _has_lists() -> bool:
    from contacts.models import ContactList

    return ContactList.objects.exists()


def campaign_index(request):
    campaigns = _with_counts(
        list(Campaign.objects.select_related("account", "sender", "window")[:200])
    )
    return render(request, "campaigns/index.html", {"campaigns": campaigns})


# ------------------------------------------------------------------ composer


def _composer_preview(form: CampaignForm) -> dict:
    """What the preview panel shows for the form as it is now, valid or not:
    the text's encoding and parts always, the audience, cost and checks once
    an account and a sender are chosen."""
    form.is_valid()
    data = getattr(form, "cleaned_data", {})
    text = form.data.get("text", "") if form.is_bound else (form.instance.text or "")
    keep_gsm7 = data.get("keep_gsm7", form.instance.keep_gsm7)
    # Counted as it goes out: tracked links as short links.
    tracked = data.get("track_links", form.instance.track_links) and not data.get(
        "click_tracking", form.instance.click_tracking
    )
    sent = links.sample_text(text) if tracked else text
    info = segments.count(segments.to_gsm7(sent) if keep_gsm7 else sent)
    context = {"info": info, "text_length": len(sent), "form": form}
    plain = segments.to_gsm7(sent)
    if not keep_gsm7 and plain != sent and segments.count(plain).encoding == segments.GSM7:
        # Shown before the user opts in, so they see what it would save.
        context["gsm7_segments"] = segments.count(plain).segments
    campaign = form.instance
    campaign.text = text
    campaign.keep_gsm7 = keep_gsm7
    lists = data.get("lists") if form.is_bound else (campaign.lists.all() if campaign.pk else [])
    excluded = (
        data.get("exclude_lists")
        if form.is_bound
        else (campaign.exclude_lists.all() if campaign.pk else [])
    )
    chosen_segments = (
        data.get("segments") if form.is_bound else (campaign.segments.all() if campaign.pk else [])
    )
    # The A/B test's variants as typed (the first is the text above).
    typed = form.variants_typed()
    if typed is not None or form.is_bound:
        campaign.ab_texts = typed or []
    ready = campaign.account_id and campaign.sender_id and text.strip()
    if ready:
        kwargs = {
            "lists": lists or [],
            "exclude_lists": excluded or [],
            "segments": chosen_segments or [],
        }
        context["preview"] = compose.preview_draft(campaign, **kwargs)
        context["check"] = compose.check_draft(campaign, **kwargs, preview=context["preview"])
        if not lists and not chosen_segments:
            context["check"].errors.append("Choose at least one list or segment to send to.")
        if typed is not None:
            # Until the share is right the test is not priced: say why.
            for error in form.errors.get("ab_test_share", []):
                context["check"].errors.append(f"A/B test share: {error}")
        context["scheduled_at"] = data.get("scheduled_at")
    return context


def campaign_edit(request, pk=None):
    roles.require(roles.can_send, request.user)
    campaign = get_object_or_404(Campaign, pk=pk) if pk else None
    if campaign and not campaign.is_editable:
        flash.error(request, "Only a draft can be edited.")
        return redirect("campaigns:detail", pk=campaign.pk)
    post = request.method == "POST"
    # As stored, before the form changes the instance.
    lifted_before = (campaign.quiet_hours_lifted, campaign.quiet_hours_reason) if campaign else None
    form = CampaignForm(request.POST if post else None, instance=campaign, user=request.user)
    action = request.POST.get("action", "save")
    test_form = TestSendForm(
        request.POST if action == "test" else None,
        prefix="test",
        variants=_variant_labels(campaign),
    )
    if post and form.is_valid() and (action != "test" or test_form.is_valid()):
        created = campaign is None
        with transaction.atomic():
            campaign = form.save(commit=False)
            if created:
                campaign.created_by = request.user
            campaign.save()
            form.save_m2m()
            abtest.save_variants(campaign, form.variant_texts())
            services.audit.record(
                "campaign.create" if created else "campaign.edit", actor=request.user, obj=campaign
            )
            services.record_quiet_hours_lift(
                campaign=campaign, user=request.user, before=lifted_before
            )
        if action == "test":
            _test_send(request, campaign, test_form)
            return redirect("campaigns:edit", pk=campaign.pk)
        if action == "launch":
            try:
                launched = services.campaign_launch(campaign=campaign, user=request.user)
            except services.CampaignError as error:
                flash.error(request, f"Saved as a draft, not launched: {error}")
                return redirect("campaigns:edit", pk=campaign.pk)
            flash.success(request, _launched_text(launched))
            return redirect("campaigns:detail", pk=campaign.pk)
        flash.success(request, f"Saved “{campaign}” as a draft.")
        return redirect("campaigns:detail", pk=campaign.pk)
    context = _composer_preview(form)
    context.update(campaign=campaign, test_form=test_form, has_lists=_has_lists())
    return render(request, "campaigns/edit.html", context)


@require_POST
def campaign_preview(request, pk=None):
    """The composer's preview panel, re-rendered as the user types."""
    roles.require(roles.can_send, request.user)
    campaign = get_object_or_404(Campaign, pk=pk, state=Campaign.State.DRAFT) if pk else None
    form = CampaignForm(request.POST, instance=campaign, user=request.user)
    context = _composer_preview(form)
    context["campaign"] = campaign
    return render(request, "campaigns/edit.html#preview", context)


def _variant_labels(campaign) -> list[str]:
    """The labels of a saved campaign's A/B variants (none for others)."""
    if campaign is None or campaign.pk is None:
        return []
    return list(campaign.variants.order_by("label").values_list("label", flat=True))


def _test_send(request, campaign, test_form) -> bool:
    try:
        message = services.test_send(
            campaign=campaign,
            phone=test_form.cleaned_data["phone"],
            default_region=test_form.cleaned_data.get("country") or "",
            variant_label=test_form.cleaned_data.get("variant") or "",
            user=request.user,
        )
    except (services.CampaignError, InvalidNumber) as error:
        flash.error(request, f"Test not sent: {error}")
        return False
    flash.success(
        request,
        f"Test sent to {message.phone}: {message.get_status_display()}"
        + (f" — {message.error_description}" if message.error_description else ""),
    )
    return True


def _launched_text(campaign) -> str:
    """What the flash says after a launch: what the campaign waits for now."""
    campaign = Campaign.objects.select_related("account", "window").get(pk=campaign.pk)
    waiting = selectors.campaign_waiting(campaign)
    if campaign.state == Campaign.State.SCHEDULED:
        return f"{waiting[0].headline}." if waiting else "Scheduled."
    if not waiting:
        if campaign.state == Campaign.State.COMPLETED:
            return "Launched and done: every message is accounted for."
        return "Launched."
    first = waiting[0]
    return f"Launched. {first.headline}: {first.detail}" if first.detail else "Launched."


# ------------------------------------------------------------- campaign page


def _engagement_context(campaign, counts) -> dict:
    """The campaign page's clicks and conversions (engagement.py): nothing
    for a campaign without tracked links, clicks or conversions."""
    if not engagement.has_engagement(campaign):
        return {}
    figures = engagement.campaign_figures(campaign, counts)
    variants = {v.pk: v for v in campaign.variants.order_by("label")}
    by_variant = engagement.variant_figures(campaign) if variants else {}
    unit, clicks = engagement.clicks_timeline(campaign)
    account = campaign.account
    context = {
        "engagement": figures,
        "engagement_variants": [(variants[pk], f) for pk, f in by_variant.items()],
        "clicks_unit": unit,
        "clicks_chart": _chart(
            {
                "type": "bar",
                "data": {
                    "labels": [_label(at, unit) for at, _ in clicks],
                    "datasets": [{"label": "Clicks", "data": [n for _, n in clicks]}],
                },
            }
        )
        if clicks
        else "",
    }
    if figures.conversions and account.capabilities.conversion_tracking:
        context["conversions_refused"] = engagement.provider_refusals(campaign.pk)
    if campaign.click_tracking:
        context["engagement_provider"] = {
            "label": account.backend_class.label,
            "reports_back": account.capabilities.click_reports,
        }
    return context


def _detail_context(campaign):
    counts = selectors.campaign_counts([campaign.pk])[campaign.pk]
    awaiting_reports = counts.get(Status.ACCEPTED) + counts.get(Status.SENDING)
    recently_done = campaign.completed_at and timezone.now() - campaign.completed_at < timedelta(
        days=1
    )
    timeline = selectors.campaign_timeline(campaign)
    cancelled = campaign.state == Campaign.State.CANCELLED
    return {
        "campaign": campaign,
        # The A/B test: variants, figures, where it stands (None: not one);
        # read only where a page shows it, not by the progress part's polls.
        "ab": SimpleLazyObject(lambda: abtest.summary(campaign)),
        "counts": counts,
        "waiting": selectors.campaign_waiting(campaign, counts) if campaign.launched_at else [],
        "estimate": selectors.cost_estimate(campaign, counts),
        # Handed to the provider and not confirmed cancelled there.
        "still_going_out": selectors.held_at_provider(campaign) if cancelled else 0,
        # Keep refreshing while it sends, and while reports still come in.
        "live": campaign.is_active or bool(awaiting_reports and recently_done),
        "recent": selectors.latest_messages(campaign.pk, counts),
        "errors": selectors.error_reasons(campaign.pk),
        "timeline": timeline,
        # Charts once something went out (a campaign waiting has nothing to draw).
        "charts": any(sent or cost for _, sent, _, _, cost in timeline.rows),
        "status_chart": _chart(
            {
                "type": "doughnut",
                "data": {
                    "labels": [label for _, label, _ in counts.rows()],
                    "datasets": [{"label": "Messages", "data": [n for *_, n in counts.rows()]}],
                },
            }
        ),
        **_daily_charts(timeline.rows, timeline.unit),
        "audit": AuditLogEntry.objects.filter(
            object_type="campaigns.campaign", object_id=str(campaign.pk)
        ).select_related("actor")[:50],
        **_engagement_context(campaign, counts),
    }


def campaign_detail(request, pk):
    campaign = get_object_or_404(
        Campaign.objects.select_related("account", "sender", "window"), pk=pk
    )
    if request.htmx and request.GET.get("part") == "progress":
        if request.GET.get("state") != campaign.state:
            # The state changed (e.g. completed): the actions change too.
            return HttpResponseClientRefresh()
        context = _detail_context(campaign)
        if not context["live"] and campaign.launched_at:
            # The last reports are in: reload once so the charts and the
            # errors by reason, which do not poll, show them too.
            return HttpResponseClientRefresh()
        return render(request, "campaigns/detail.html#progress", {**context, "poll": True})
    context = _detail_context(campaign)
    if campaign.is_editable:
        context["preview"] = compose.preview(campaign)
        context["check"] = compose.check(campaign, preview=context["preview"])
        context["test_form"] = TestSendForm(variants=_variant_labels(campaign))
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
    return _action(
        request,
        pk,
        lambda c: _launched_text(services.campaign_launch(campaign=c, user=request.user)),
    )


@require_POST
def campaign_ab_pick(request, pk):
    """A person picks the A/B test's winner: the rest of the audience gets it."""

    def pick(campaign):
        variant = campaign.variants.filter(pk=request.POST.get("variant") or 0).first()
        if variant is None:
            raise services.CampaignError("Choose one of the campaign's variants.")
        sent = abtest.pick_winner(campaign=campaign, variant=variant, user=request.user)
        return f"Variant {variant.label} goes to the rest: {sent:,} recipient(s)."

    return _action(request, pk, pick)


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
        held = selectors.held_at_provider(campaign)
        n = services.campaign_cancel(campaign=campaign, user=request.user)
        text = f"Cancelled; {n} message(s) will not be sent."
        if held and campaign.account.capabilities.cancel:
            text += f" {held:,} already with the provider are being cancelled there."
        elif held:
            text += (
                f" {held:,} already with the provider cannot be cancelled there and go out "
                "at the scheduled time."
            )
        return text

    return _action(request, pk, cancel)


@require_POST
def campaign_test_send(request, pk):
    roles.require(roles.can_send, request.user)
    campaign = get_object_or_404(Campaign, pk=pk)
    form = TestSendForm(request.POST, variants=_variant_labels(campaign))
    if form.is_valid():
        try:
            message = services.test_send(
                campaign=campaign,
                phone=form.cleaned_data["phone"],
                default_region=form.cleaned_data.get("country") or "",
                variant_label=form.cleaned_data.get("variant") or "",
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
    preview = compose.preview(campaign)
    context.update(test_form=form, check=compose.check(campaign, preview=preview), preview=preview)
    return render(request, "campaigns/detail.html", context, status=400)


# --------------------------------------------------------------- message log


def message_log(request):
    form = MessageFilterForm(request.GET or None)
    qs = engagement.with_clicks(Message.objects.select_related("campaign", "account"))
    if form.is_bound:
        form.is_valid()
        # Filters that are valid still apply; the wrong one is marked.
        form.cleaned_data = {
            k: v for k, v in getattr(form, "cleaned_data", {}).items() if k not in form.errors
        }
        qs = form.filter(qs)
    after = request.GET.get("after", "")
    rows, next_after = selectors.message_page(qs, after=int(after) if after.isdigit() else None)
    params = request.GET.copy()
    params.pop("after", None)
    first_url = f"?{params.urlencode()}" if after else ""
    if next_after:
        params["after"] = next_after
    context = {
        "form": form,
        "rows": rows,
        "next_url": f"?{params.urlencode()}" if next_after else "",
        "first_url": first_url,
    }
    if request.htmx and request.GET.get("part") != "page":
        return render(request, "campaigns/messages.html#results", context)
    return render(request, "campaigns/messages.html", context)


def message_detail(request, pk):
    message = get_object_or_404(Message.objects.select_related("campaign", "account"), pk=pk)
    clicks, found = engagement.message_engagement(message)
    return render(
        request,
        "campaigns/message.html",
        {
            "message": message,
            "events": message.events.all(),
            "links": [
                (link, links.short_url(link.code))
                for link in message.links.order_by("position", "id")
            ],
            "clicks": clicks,
            "conversions": [(c, *conversions.provider_state(c)) for c in found],
        },
    )


# ------------------------------------------------- senders, DLT and windows


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
    senders = list(SenderID.objects.prefetch_related("accounts").select_related("requested_by"))
    pending = sum(s.status == Approval.PENDING for s in senders)
    return render(
        request,
        "campaigns/senders.html",
        {"form": form, "senders": senders, "pending_count": pending},
    )


@require_POST
def sender_decide(request, pk):
    if not roles.can_administer(request.user):
        raise PermissionDenied("Only an Admin approves sender IDs.")
    sender = get_object_or_404(SenderID, pk=pk)
    approve = request.POST.get("decision") == "approve"
    services.sender_decide(sender=sender, user=request.user, approve=approve)
    flash.success(request, f"Sender ID {sender} {'approved' if approve else 'rejected'}.")
    return redirect("campaigns:senders")


def dlt_index(request):
    form = DLTTemplateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        roles.require(roles.can_send, request.user)
        if form.is_valid():
            template = form.save()
            services.audit.record("dlt.register", actor=request.user, obj=template)
            flash.success(request, f"DLT template “{template}” registered; an Admin approves it.")
            return redirect("campaigns:dlt")
    templates = DLTTemplate.objects.select_related("header")
    test_form = DLTTestForm(initial={"template": request.GET.get("template")})
    return render(
        request,
        "campaigns/dlt.html",
        {"form": form, "templates": templates, "test_form": test_form},
    )


@require_POST
def dlt_decide(request, pk):
    if not roles.can_administer(request.user):
        raise PermissionDenied("Only an Admin approves DLT templates.")
    template = get_object_or_404(DLTTemplate, pk=pk)
    approve = request.POST.get("decision") == "approve"
    services.template_decide(template=template, user=request.user, approve=approve)
    flash.success(request, f"DLT template {template} {'approved' if approve else 'rejected'}.")
    return redirect("campaigns:dlt")


@require_POST
def dlt_test(request):
    """Does a message match a template? Answered in place."""
    form = DLTTestForm(request.POST)
    result = None
    if form.is_valid():
        template, text = form.cleaned_data["template"], form.cleaned_data["text"]
        result = {
            "template": template,
            "matches": compose.dlt_matches(template.content, text),
            "info": segments.count(text),
        }
    context = {"test_form": form, "result": result, "templates": DLTTemplate.objects.all()}
    if request.htmx:
        return render(request, "campaigns/dlt.html#tester", context)
    context["form"] = DLTTemplateForm()
    return render(request, "campaigns/dlt.html", context)


def window_index(request):
    form = DeliveryWindowForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        roles.require(roles.can_send, request.user)
        if form.is_valid():
            window = form.save()
            services.audit.record("window.create", actor=request.user, obj=window)
            flash.success(request, f"Delivery window “{window}”: {window.summary()}.")
            return redirect("campaigns:windows")
    return render(
        request,
        "campaigns/windows.html",
        {
            "form": form,
            "windows": DeliveryWindow.objects.annotate(in_use=Count("campaigns")),
            "summary": _window_summary(form),
        },
    )


@require_POST
def window_summary(request):
    """The plain-language summary of the window being typed in."""
    form = DeliveryWindowForm(request.POST)
    return render(request, "campaigns/windows.html#summary", {"summary": _window_summary(form)})


def _window_summary(form) -> str:
    if not form.is_bound:
        return ""
    form.is_valid()
    data = getattr(form, "cleaned_data", {})
    if not (data.get("days") and data.get("start_time") and data.get("end_time")):
        return ""
    window = DeliveryWindow(
        days=data["days"],
        start_time=data["start_time"],
        end_time=data["end_time"],
        recipient_local=data.get("recipient_local", False),
        time_zone=data.get("time_zone") or "UTC",
    )
    return window.summary()


# ---------------------------------------------------------- everyday actions


@require_POST
def campaign_clone(request, pk):
    """A new draft with this campaign's text, sender, account and audience."""
    roles.require(roles.can_send, request.user)
    campaign = get_object_or_404(Campaign, pk=pk)
    try:
        copy = services.campaign_clone(campaign=campaign, user=request.user)
    except services.CampaignError as error:
        flash.error(request, str(error))
        return redirect("campaigns:detail", pk=pk)
    flash.success(
        request,
        f"“{copy}” is a new draft copied from “{campaign}”: change what you need, then launch.",
    )
    return redirect("campaigns:edit", pk=copy.pk)


def message_export(request):
    """The message log as filtered on its page, as CSV (every matching
    message, not one page)."""
    roles.require(roles.can_export_csv, request.user)
    form = MessageFilterForm(request.GET or None)
    messages = Message.objects.all()
    if form.is_bound:
        form.is_valid()
        # As on the page: the filters that are valid apply.
        form.cleaned_data = {
            k: v for k, v in getattr(form, "cleaned_data", {}).items() if k not in form.errors
        }
        messages = form.filter(messages)
    campaign = getattr(form, "cleaned_data", {}).get("campaign")
    return exports.message_log_response(
        messages, name=f"messages-{campaign.name}" if campaign else "messages"
    )


def campaign_report_export(request, pk):
    """The campaign's report as CSV: per country, messages by status, parts,
    estimated and actual cost."""
    roles.require(roles.can_export_csv, request.user)
    campaign = get_object_or_404(Campaign.objects.select_related("account"), pk=pk)
    return exports.campaign_report_response(campaign)


def window_edit(request, pk):
    roles.require(roles.can_send, request.user)
    window = get_object_or_404(DeliveryWindow, pk=pk)
    form = DeliveryWindowForm(request.POST if request.method == "POST" else None, instance=window)
    if request.method == "POST" and form.is_valid():
        window = services.window_save(form=form, user=request.user)
        flash.success(request, f"Delivery window “{window}”: {window.summary()}.")
        return redirect("campaigns:windows")
    active = window.campaigns.filter(state__in=ACTIVE).count()
    return render(
        request,
        "campaigns/window_edit.html",
        {
            "form": form,
            "window": window,
            "active": active,
            "summary": _window_summary(form) if form.is_bound else window.summary(),
        },
        status=400 if form.errors else 200,
    )


@require_POST
def window_delete(request, pk):
    roles.require(roles.can_send, request.user)
    window = get_object_or_404(DeliveryWindow, pk=pk)
    try:
        services.window_delete(window=window, user=request.user)
    except services.WindowInUse as error:
        flash.error(request, str(error))
    else:
        flash.success(request, f"Delivery window “{window}” deleted.")
    return redirect("campaigns:windows")


@login_not_required
def healthz(request):
    return HttpResponse("ok", content_type="text/plain")
