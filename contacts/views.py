from django.contrib import messages as flash
from django.db.models import Count, Exists, OuterRef
from django.shortcuts import get_object_or_404, redirect, render

from smsportal import roles

from . import services
from .forms import AddContactsForm, ContactListForm
from .models import Contact, ContactList, Suppression


def list_index(request):
    form = ContactListForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        roles.require(roles.can_send, request.user)
        if form.is_valid():
            contact_list = services.list_create(
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                user=request.user,
            )
            flash.success(request, f"List “{contact_list}” created; now add contacts.")
            return redirect("contacts:list", pk=contact_list.pk)
    lists = ContactList.objects.annotate(size=Count("listmembership"))
    return render(request, "contacts/lists.html", {"form": form, "lists": lists})


PAGE = 50


def list_detail(request, pk):
    contact_list = get_object_or_404(ContactList, pk=pk)
    form = AddContactsForm(request.POST if request.method == "POST" else None)
    row_errors = []
    if request.method == "POST":
        roles.require(roles.can_send, request.user)
        if form.is_valid():
            rows = services.parse_pasted_numbers(form.cleaned_data["numbers"])
            result = services.list_add_contacts(
                contact_list=contact_list, rows=rows, default_region=form.cleaned_data["country"]
            )
            row_errors = result.errors
            if result.added or result.updated:
                flash.success(
                    request,
                    f"Added {result.added} contact(s)"
                    + (f", {result.updated} already in the list" if result.updated else "")
                    + ".",
                )
            if not row_errors:
                return redirect("contacts:list", pk=pk)
            # Keep the lines that failed in the box so they can be fixed.
            failed = {row for row, _, _ in row_errors}
            lines = [ln for ln in form.cleaned_data["numbers"].splitlines() if ln.strip()]
            form = AddContactsForm(
                initial={
                    "numbers": "\n".join(ln for i, ln in enumerate(lines, 1) if i in failed),
                    "country": form.cleaned_data["country"],
                }
            )
    after = request.GET.get("after", "")
    contacts = (
        Contact.objects.filter(listmembership__contact_list=contact_list)
        .annotate(suppressed=Exists(Suppression.objects.filter(phone=OuterRef("phone"))))
        .order_by("-id")
    )
    if after.isdigit():
        contacts = contacts.filter(id__lt=int(after))
    page = list(contacts[: PAGE + 1])
    next_url = f"?after={page[PAGE - 1].id}" if len(page) > PAGE else ""
    return render(
        request,
        "contacts/list_detail.html",
        {
            "contact_list": contact_list,
            "contacts": page[:PAGE],
            "next_url": next_url,
            "size": contact_list.listmembership_set.count(),
            "form": form,
            "row_errors": row_errors,
        },
        status=400 if row_errors and not flash.get_messages(request) else 200,
    )
