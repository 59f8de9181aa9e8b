from django import forms
from django.contrib import admin, messages

from smsportal import audit, roles
from smsportal.admin import ReadOnlyAdmin

from . import services
from .models import FailedCallback, InboundMessage, ProviderAccount, RateCardEntry, WebhookInbox


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


@admin.register(FailedCallback)
class FailedCallbackAdmin(admin.ModelAdmin):
    """Callbacks the worker could not apply, kept for review: Admins look at
    them, apply them again once the cause is fixed, or delete them."""

    list_display = ["failed_at", "account", "event", "reports", "short_error"]
    list_filter = ["account"]
    readonly_fields = [
        "account",
        "method",
        "content_type",
        "received_at",
        "failed_at",
        "event",
        "reports",
        "error",
        "body_text",
        "query",
        "form",
        "headers",
    ]
    exclude = ["body"]
    actions = ["apply_again"]

    @admin.display(description="Error")
    def short_error(self, obj):
        return obj.error[:120]

    @admin.display(description="Body (first 20,000 characters)")
    def body_text(self, obj):
        return bytes(obj.body)[:20_000].decode("utf-8", errors="replace")

    def has_module_permission(self, request):
        return roles.can_administer(request.user)

    def has_view_permission(self, request, obj=None):
        return roles.can_administer(request.user)

    def has_delete_permission(self, request, obj=None):
        return roles.can_administer(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Apply again")
    def apply_again(self, request, queryset):
        moved = services.apply_again(queryset)
        audit.record("callback.apply_again", actor=request.user, count=moved)
        self.message_user(request, f"{moved} callback(s) put back to be applied.")
