from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from smsportal.admin import ReadOnlyAdmin

from . import abtest, compose, services
from .models import (
    Campaign,
    Click,
    Conversion,
    DeliveryWindow,
    DLTTemplate,
    Message,
    MessageEvent,
    SenderID,
    ShortLink,
    Variant,
)


@admin.register(SenderID)
class SenderIDAdmin(admin.ModelAdmin):
    list_display = ["value", "kind", "status", "requested_by", "decided_by", "decided_at"]
    list_filter = ["status", "kind"]
    search_fields = ["value"]
    filter_horizontal = ["accounts"]
    readonly_fields = ["kind", "decided_by", "decided_at"]
    actions = ["approve", "reject"]

    @admin.action(description="Approve selected sender IDs")
    def approve(self, request, queryset):
        for sender in queryset:
            services.sender_decide(sender=sender, user=request.user, approve=True)

    @admin.action(description="Reject selected sender IDs")
    def reject(self, request, queryset):
        for sender in queryset:
            services.sender_decide(sender=sender, user=request.user, approve=False)


@admin.register(DLTTemplate)
class DLTTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "template_id", "header", "category", "status"]
    list_filter = ["status", "category"]
    search_fields = ["name", "template_id", "content"]
    actions = ["approve"]

    @admin.action(description="Approve selected templates")
    def approve(self, request, queryset):
        for template in queryset:
            services.template_decide(template=template, user=request.user, approve=True)


@admin.register(DeliveryWindow)
class DeliveryWindowAdmin(admin.ModelAdmin):
    list_display = ["name", "summary"]


class VariantForm(forms.ModelForm):
    label = forms.ChoiceField(choices=[(label, label) for label in abtest.LABELS])

    class Meta:
        model = Variant
        fields = ["label", "text"]
        widgets = {"text": forms.Textarea(attrs={"rows": 2, "cols": 60})}


class VariantFormSet(forms.BaseInlineFormSet):
    """The A/B test's variants as the composer keeps them: A–D, each once,
    2 to 4 of them while the campaign has a test share, variant A being the
    campaign's own text."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        kept = [
            f.cleaned_data
            for f in self.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE")
        ]
        labels = [row["label"] for row in kept]
        if len(set(labels)) != len(labels):
            raise ValidationError("Each variant has its own label (A, B, C, D).")
        campaign = self.instance
        if campaign.ab_test_share is not None and not (
            abtest.MIN_VARIANTS <= len(kept) <= abtest.MAX_VARIANTS
        ):
            raise ValidationError(
                f"An A/B test needs {abtest.MIN_VARIANTS} to {abtest.MAX_VARIANTS} variants "
                f"(it has {len(kept)}); or empty its test share."
            )
        first = next((row for row in kept if row["label"] == abtest.LABELS[0]), None)
        if first is not None and first["text"] != campaign.text:
            raise ValidationError(
                "Variant A is the campaign's own text: make them the same (change the text "
                "above or variant A)."
            )
        for row in kept:
            problem = compose.text_length_problem(row["text"])
            if problem:
                raise ValidationError(f"Variant {row['label']}: {problem}")


class VariantInline(admin.TabularInline):
    """The A/B test's texts: edited while the campaign is a draft, shown
    read-only once it has gone out."""

    model = Variant
    form = VariantForm
    formset = VariantFormSet
    extra = 0
    max_num = abtest.MAX_VARIANTS

    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request, obj) and (obj is None or obj.is_editable)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or obj.is_editable)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or obj.is_editable)


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "state", "account", "sender", "audience_count", "created_at"]
    list_filter = ["state", "account", "quiet_hours_lifted", "consent_required"]
    search_fields = ["name", "text"]
    readonly_fields = [
        "state",
        "pause_reason",
        "audience_count",
        "launched_at",
        "completed_at",
        "created_by",
        "consecutive_failures",
        "ab_test_ends_at",
        "ab_winner",
        "ab_decided_at",
        "ab_decided_by",
    ]
    filter_horizontal = ["lists", "exclude_lists", "segments"]
    inlines = [VariantInline]
    actions = ["cancel", "pause"]

    # As on the pages, only a draft is edited: once launched, what a
    # campaign sent, to whom and at what cost is a record. Cancel and pause
    # stay available as actions.
    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or obj.is_editable)

    def has_delete_permission(self, request, obj=None):
        # Deleting a launched campaign would delete its messages.
        return super().has_delete_permission(request, obj) and (obj is None or obj.is_editable)

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Bulk deletion would take launched campaigns (and their messages) too.
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change):
        stored = Campaign.objects.filter(pk=obj.pk).values_list(
            "quiet_hours_lifted", "quiet_hours_reason"
        )
        before = stored.first() if change else None
        super().save_model(request, obj, form, change)
        services.record_quiet_hours_lift(campaign=obj, user=request.user, before=before)

    @admin.action(description="Cancel selected campaigns")
    def cancel(self, request, queryset):
        for campaign in queryset:
            try:
                n = services.campaign_cancel(campaign=campaign, user=request.user)
                self.message_user(request, f"{campaign}: cancelled, {n} message(s) not sent.")
            except services.CampaignError as error:
                self.message_user(request, f"{campaign}: {error}", messages.ERROR)

    @admin.action(description="Pause selected campaigns")
    def pause(self, request, queryset):
        for campaign in queryset:
            try:
                services.campaign_pause(campaign=campaign, user=request.user)
            except services.CampaignError as error:
                self.message_user(request, f"{campaign}: {error}", messages.ERROR)


class EventInline(admin.TabularInline):
    model = MessageEvent
    extra = 0
    can_delete = False
    readonly_fields = ["created_at", "kind", "status", "applied", "payload"]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "phone",
        "campaign",
        "status",
        "account",
        "segments",
        "estimated_cost",
        "actual_cost",
        "created_at",
    ]
    list_filter = ["status", "account", "is_test"]
    search_fields = ["=phone", "=provider_message_id"]
    list_select_related = ["campaign", "account"]
    show_full_result_count = False
    inlines = [EventInline]
    actions = ["recheck"]

    @admin.action(description="Re-check status with the provider")
    def recheck(self, request, queryset):
        from .reports import ingest_reports

        for message in queryset.exclude(provider_message_id="").select_related("account")[:500]:
            backend = message.account.backend()
            if not backend.capabilities.polling:
                self.message_user(
                    request, f"{message.account} cannot be asked for a status.", messages.WARNING
                )
                continue
            ingest_reports(
                message.account, backend.poll_statuses([message.provider_message_id]), kind="poll"
            )
        self.message_user(request, "Statuses re-checked.")


@admin.register(MessageEvent)
class MessageEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "status", "applied", "provider_message_id", "account"]
    list_filter = ["kind", "applied", "status"]
    search_fields = ["=provider_message_id"]
    raw_id_fields = ["message"]


@admin.register(ShortLink)
class ShortLinkAdmin(ReadOnlyAdmin):
    list_display = ["code", "campaign_id", "message_id", "position", "url", "created_at"]
    search_fields = ["=code"]
    raw_id_fields = ["message", "campaign"]
    show_full_result_count = False


@admin.register(Click)
class ClickAdmin(ReadOnlyAdmin):
    """Clicks are evidence: previews (``is_bot``) are kept apart, never
    counted; provider-reported clicks carry what the provider sent."""

    list_display = ["at", "campaign_id", "message_id", "source", "agent", "is_bot"]
    list_filter = ["source", "is_bot", "agent"]
    raw_id_fields = ["link", "message", "campaign", "variant"]
    show_full_result_count = False


@admin.register(Conversion)
class ConversionAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "campaign", "message_id", "value", "currency", "source"]
    list_filter = ["source", "currency"]
    search_fields = ["=external_id"]
    raw_id_fields = ["link", "message", "campaign", "variant"]
