from django.contrib import admin

from smsportal import audit

from .models import Contact, ContactList, ListMembership, Suppression


class MembershipInline(admin.TabularInline):
    model = ListMembership
    extra = 0
    raw_id_fields = ["contact"]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["phone", "first_name", "last_name", "country", "time_zone", "created_at"]
    list_filter = ["country"]
    search_fields = ["phone", "first_name", "last_name"]
    show_full_result_count = False

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
