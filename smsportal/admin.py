from django.contrib import admin

from . import tokens
from .models import APIToken, AuditLogEntry


class ReadOnlyAdmin(admin.ModelAdmin):
    """Logs are evidence: nobody adds, edits or deletes them here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor", "action", "object_type", "object_repr"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_repr", "object_id", "actor__username", "action"]
    date_hierarchy = "created_at"
    list_select_related = ["actor"]


@admin.register(APIToken)
class APITokenAdmin(ReadOnlyAdmin):
    """Tokens are made on the API tokens page, where the token is shown once;
    here they are read, and revoked."""

    list_display = [
        "name",
        "user",
        "prefix",
        "can_record_conversions",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "user__username"]
    list_select_related = ["user"]
    readonly_fields = [
        "user",
        "name",
        "prefix",
        "can_record_conversions",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    exclude = ["revoked_by"]
    actions = ["revoke"]

    @admin.action(description="Revoke selected tokens", permissions=["view"])
    def revoke(self, request, queryset):
        for token in queryset.select_related("user"):
            tokens.token_revoke(token=token, user=request.user)
        self.message_user(request, "Revoked; tools using them are refused from now on.")
