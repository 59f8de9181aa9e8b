from django.contrib import admin
from django.utils.html import format_html, format_html_join

from smsportal import audit
from smsportal.admin import ReadOnlyAdmin

from . import segments, services
from .models import (
    Consent,
    ConsentEvent,
    Contact,
    ContactImport,
    ContactList,
    ListMembership,
    Segment,
    Suppression,
)


class MembershipInline(admin.TabularInline):
    model = ListMembership
    extra = 0
    raw_id_fields = ["contact"]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = [
        "phone",
        "first_name",
        "last_name",
        "country",
        "time_zone",
        "consent",
        "created_at",
    ]
    list_filter = ["country", "consent"]
    search_fields = ["phone", "first_name", "last_name"]
    show_full_result_count = False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if "consent" in form.changed_data or (not change and obj.consent != Consent.UNKNOWN):
            # The history row and the audit entry, as for any other source.
            services.consent_record(
                phone=obj.phone,
                state=obj.consent,
                source=ConsentEvent.Source.ADMIN,
                detail="Changed in the admin",
                user=request.user,
            )

    # Deleting contacts takes them out of their lists: recount those lists.
    def delete_model(self, request, obj):
        self.delete_queryset(request, Contact.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        lists = set(
            ListMembership.objects.filter(contact__in=queryset).values_list(
                "contact_list_id", flat=True
            )
        )
        super().delete_queryset(request, queryset)
        ContactList.recount_members(lists)


@admin.register(ContactList)
class ContactListAdmin(admin.ModelAdmin):
    list_display = ["name", "created_by", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]
    readonly_fields = ["member_count"]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        ContactList.recount_members([form.instance.pk])


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ["phone", "reason", "note", "created_by", "created_at"]
    list_filter = ["reason"]
    search_fields = ["phone", "note"]
    readonly_fields = ["created_by", "created_at"]

    def save_model(self, request, obj, form, change):
        obj.created_by = obj.created_by or request.user
        super().save_model(request, obj, form, change)
        audit.record("suppression.add", actor=request.user, obj=obj, via="admin")

    def delete_model(self, request, obj):
        audit.record("suppression.remove", actor=request.user, obj=obj, via="admin")
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            audit.record("suppression.remove", actor=request.user, obj=obj, via="admin")
        super().delete_queryset(request, queryset)


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnlyAdmin):
    """The history is evidence: read here, never edited."""

    list_display = ["created_at", "contact", "state", "source", "detail", "created_by"]
    list_filter = ["state", "source"]
    search_fields = ["=contact__phone"]
    raw_id_fields = ["contact"]


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    """Conditions are built and checked on the segment's page; here they are
    shown in words, not edited as raw JSON (a wrong one would fail every
    campaign that sends to the segment)."""

    list_display = ["name", "match", "condition_count", "created_by", "updated_at"]
    search_fields = ["name", "description"]
    fields = ["name", "description", "match", "conditions_in_words", "created_by", "updated_at"]
    readonly_fields = ["conditions_in_words", "created_by", "updated_at"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="Conditions")
    def condition_count(self, obj):
        return len(obj.conditions or [])

    @admin.display(description="Conditions")
    def conditions_in_words(self, obj):
        described = ((segments.describe(c),) for c in obj.conditions or [])
        items = format_html_join("", "<li>{}</li>", described)
        return format_html("<ul>{}</ul><p>Change them on the segment's page.</p>", items)


@admin.register(ContactImport)
class ContactImportAdmin(admin.ModelAdmin):
    """An import's record: what was read, what it added, what went wrong.
    Imports run from the pages; here they are read only."""

    list_display = [
        "original_name",
        "target",
        "contact_list",
        "state",
        "rows_read",
        "rows_valid",
        "rows_invalid",
        "added",
        "created_by",
        "created_at",
    ]
    list_filter = ["state", "target", "file_format"]
    search_fields = ["original_name"]
    list_select_related = ["contact_list", "created_by"]
    exclude = ["columns", "sample_rows", "mapping", "stored_name", "error_report_name"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
