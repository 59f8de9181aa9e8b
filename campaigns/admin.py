from django.contrib import admin, messages

from smsportal.admin import ReadOnlyAdmin

from . import services
from .models import Campaign, DeliveryWindow, DLTTemplate, Message, MessageEvent, SenderID


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
    ]
    filter_horizontal = ["lists", "exclude_lists", "segments"]
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
