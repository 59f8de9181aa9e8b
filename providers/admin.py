from django import forms
from django.contrib import admin, messages

from smsportal import audit, roles
from smsportal.admin import ReadOnlyAdmin

from . import crypto, services
from .forms import REPLY_FIELDS, option_field
from .models import FailedCallback, InboundMessage, ProviderAccount, RateCardEntry, WebhookInbox


class RateInline(admin.TabularInline):
    model = RateCardEntry
    extra = 1


class ProviderAccountAdminForm(forms.ModelForm):
    """The account's common fields. The chosen backend's options and
    credentials are added as fields of their own (``option_fields``), as on
    the account's page: never a raw JSON object."""

    base_url = forms.URLField(required=False, assume_scheme="https")

    class Meta:
        model = ProviderAccount
        fields = [
            "name",
            "kind",
            "base_url",
            "default_sender",
            "throughput",
            "currency",
            "default_price",
            "webhook_secret",
            "fallback",
            "enabled",
        ]
        help_texts = {
            "kind": "Which provider. Its own options and credentials are fields here once "
            "the account is saved.",
        }


def backend_fields(account) -> dict[str, forms.Field]:
    """Form fields for the account's backend options and credentials (a
    stored secret is never shown: left empty, it is kept), and for the
    confirmations of keyword replies."""
    if account is None or not account.pk:
        return {}
    backend = account.backend_class
    options = account.options or {}
    stored = account.credentials
    fields: dict[str, forms.Field] = {}
    for f in backend.option_fields:
        fields[f"opt_{f.name}"] = option_field(f, options)
    for f in backend.credential_fields:
        kept = stored.get(f.name)
        fields[f"cred_{f.name}"] = forms.CharField(
            label=f.label,
            required=False,
            help_text=(f.help_text + " " if f.help_text else "")
            + (f"Stored ({crypto.mask(str(kept))}); leave empty to keep it." if kept else ""),
            widget=forms.PasswordInput if f.secret else forms.TextInput,
            initial="" if f.secret else (kept or ""),
        )
    fields["keyword_replies_off"] = forms.BooleanField(
        label="Send no confirmations of STOP, START and HELP replies",
        required=False,
        initial=options.get("keyword_replies") == "off",
    )
    for intent, label in REPLY_FIELDS:
        fields[f"reply_{intent}"] = forms.CharField(
            label=label,
            required=False,
            max_length=320,
            initial=options.get(f"reply_{intent}") or "",
            help_text=f"Empty: the site's text (KEYWORD_REPLY_{intent.upper()}).",
        )
    return fields


@admin.register(ProviderAccount)
class ProviderAccountAdmin(admin.ModelAdmin):
    form = ProviderAccountAdminForm
    list_display = ["name", "kind", "throughput", "currency", "enabled", "fallback"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name"]
    readonly_fields = ["masked", "webhook"]
    inlines = [RateInline]
    actions = ["check_connection"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        extra = backend_fields(obj)
        if extra:
            kwargs["form"] = type("ProviderAccountAdminForm", (self.form,), extra)
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        # The kind decides which options and credentials exist: fixed once saved.
        return [*fields, "kind"] if obj and obj.pk else fields

    @admin.display(description="Stored credentials")
    def masked(self, obj):
        masked = obj.masked_credentials() if obj.pk else {}
        return ", ".join(f"{name}: {value}" for name, value in masked.items()) or "—"

    @admin.display(description="Webhook URL")
    def webhook(self, obj):
        return obj.webhook_url() if obj.pk else "—"

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        backend = obj.backend_class
        options = dict(obj.options or {})
        for f in backend.option_fields:
            if f"opt_{f.name}" in data:
                options[f.name] = data[f"opt_{f.name}"]
        if "keyword_replies_off" in data:
            options["keyword_replies"] = "off" if data["keyword_replies_off"] else ""
            for intent, _ in REPLY_FIELDS:
                options[f"reply_{intent}"] = (data.get(f"reply_{intent}") or "").strip()
        obj.options = options
        given = {
            f.name: data[f"cred_{f.name}"]
            for f in backend.credential_fields
            if data.get(f"cred_{f.name}")
        }
        if given:
            obj.credentials = {**(obj.credentials if obj.pk else {}), **given}
        super().save_model(request, obj, form, change)
        audit.record(
            "provider.edit" if change else "provider.create",
            actor=request.user,
            obj=obj,
            credentials_changed=bool(given),
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
