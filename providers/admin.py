from django import forms
from django.contrib import admin, messages

from smsportal import audit
from smsportal.admin import ReadOnlyAdmin

from . import services
from .models import InboundMessage, ProviderAccount, RateCardEntry, WebhookInbox


class RateInline(admin.TabularInline):
    model = RateCardEntry
    extra = 1


class ProviderAccountAdminForm(forms.ModelForm):
    base_url = forms.URLField(required=False, assume_scheme="https")
    new_credentials = forms.JSONField(
        required=False,
        help_text="Replace the stored credentials (a JSON object). Leave empty to keep them; "
        "stored values are never shown.",
    )

    class Meta:
        model = ProviderAccount
        fields = [
            "name",
            "kind",
            "base_url",
            "options",
            "default_sender",
            "throughput",
            "currency",
            "default_price",
            "webhook_secret",
            "fallback",
            "enabled",
        ]


@admin.register(ProviderAccount)
class ProviderAccountAdmin(admin.ModelAdmin):
    form = ProviderAccountAdminForm
    list_display = ["name", "kind", "throughput", "currency", "enabled", "fallback"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name"]
    readonly_fields = ["masked", "webhook"]
    inlines = [RateInline]
    actions = ["check_connection"]

    @admin.display(description="Stored credentials")
    def masked(self, obj):
        return obj.masked_credentials() if obj.pk else "—"

    @admin.display(description="Webhook URL")
    def webhook(self, obj):
        return obj.webhook_url() if obj.pk else "—"

    def save_model(self, request, obj, form, change):
        new = form.cleaned_data.get("new_credentials")
        if new:
            obj.credentials = new
        super().save_model(request, obj, form, change)
        audit.record(
            "provider.edit" if change else "provider.create",
            actor=request.user,
            obj=obj,
            credentials_changed=bool(new),
            via="admin",
        )

    @admin.action(description="Check connection")
    def check_connection(self, request, queryset):
        for account in queryset:
            ok, text = services.check_connection(account)
            self.message_user(
                request, f"{account}: {text}", messages.SUCCESS if ok else messages.ERROR
            )


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "account", "sender", "text", "keyword", "opted_out"]
    list_filter = ["account", "opted_out"]
    search_fields = ["sender", "text"]


@admin.register(WebhookInbox)
class WebhookInboxAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "account", "event", "reports"]
    list_filter = ["account"]
    exclude = ["body"]
