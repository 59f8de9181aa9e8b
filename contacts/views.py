from django.contrib import messages as flash
from django.db.models import Exists, OuterRef
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from smsportal import roles

from . import exports, segments, selectors, services
from .forms import (
    AddContactsForm,
    ConditionFormSet,
    ContactListForm,
    ImportMappingForm,
    ImportUploadForm,
    SegmentForm,
    SuppressionForm,
)
from .imports import ImportFileError
from .models import Consent, Contact, ContactImport, ContactList, Segment, Suppression

PAGE = 50


def _keyset(queryset, request, key="id"):
    """A page of rows newest first, and the link to the next one."""
    after = request.GET.get("after", "")
    if after.isdigit():
        queryset = queryset.filter(**{f"{key}__lt": int(after)})
    page = list(queryset[: PAGE + 1])
    params = request.GET.copy()
    next_url = ""
    if len(page) > PAGE:
        params["after"] = getattr(page[PAGE - 1], key)
        next_url = f"?{params.urlencode()}"
    return page[:PAGE], next_url


# ------------------------------------------------------------------ lists


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
    lists = ContactList.objects.all()
    return render(
        request,
        "contacts/lists.html",
        {
            "form": form,
            "lists": lists,
            "segments": Segment.objects.all()[:50],
            # What a first look kept of each file is for its own page only.
            "imports": ContactImport.objects.select_related("contact_list").defer(
                "columns", "sample_rows", "mapping"
            )[:5],
            "suppressed": Suppression.objects.count(),
        },
    )


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
    contacts = (
        Contact.objects.filter(listmembership__contact_list=contact_list)
        .annotate(suppressed=Exists(Suppression.objects.filter(phone=OuterRef("phone"))))
        .order_by("-id")
    )
    page, next_url = _keyset(contacts, request)
    return render(
        request,
        "contacts/list_detail.html",
        {
            "contact_list": contact_list,
            "contacts": page,
            "next_url": next_url,
            "size": contact_list.member_count,
            "form": form,
            "rename_form": ContactListForm(instance=contact_list, prefix="rename"),
            "row_errors": row_errors,
            "imports": contact_list.imports.all()[:5],
        },
        status=400 if row_errors and not flash.get_messages(request) else 200,
    )


def list_edit(request, pk):
    roles.require(roles.can_send, request.user)
    contact_list = get_object_or_404(ContactList, pk=pk)
    form = ContactListForm(
        request.POST if request.method == "POST" else None, instance=contact_list, prefix="rename"
    )
    if request.method == "POST" and form.is_valid():
        services.list_rename(
            contact_list=contact_list,
            name=form.cleaned_data["name"],
            description=form.cleaned_data["description"],
            user=request.user,
        )
        flash.success(request, "List saved.")
        return redirect("contacts:list", pk=pk)
    return render(request, "contacts/list_edit.html", {"contact_list": contact_list, "form": form})


@require_POST
def list_delete(request, pk):
    roles.require(roles.can_send, request.user)
    contact_list = get_object_or_404(ContactList, pk=pk)
    try:
        services.list_delete(contact_list=contact_list, user=request.user)
    except services.ListInUse as exc:
        flash.error(request, str(exc))
        return redirect("contacts:list", pk=pk)
    flash.success(request, f"List “{contact_list}” deleted; its contacts are kept.")
    return redirect("contacts:lists")


@require_POST
def list_remove(request, pk):
    roles.require(roles.can_send, request.user)
    contact_list = get_object_or_404(ContactList, pk=pk)
    ids = [int(v) for v in request.POST.getlist("contact") if v.isdigit()]
    if not ids:
        flash.error(request, "Tick the contacts to remove first.")
    else:
        removed = services.list_remove_contacts(
            contact_list=contact_list, contact_ids=ids, user=request.user
        )
        flash.success(request, f"Removed {removed} contact(s) from the list.")
    return redirect("contacts:list", pk=pk)


def list_export(request, pk):
    roles.require(roles.can_export_csv, request.user)
    contact_list = get_object_or_404(ContactList, pk=pk)
    contacts = Contact.objects.filter(listmembership__contact_list=contact_list)
    return exports.csv_response(exports.contact_rows(contacts), f"list-{contact_list.name}")


# ---------------------------------------------------------------- imports


def import_new(request):
    roles.require(roles.can_send, request.user)
    suppressions = request.GET.get("target") == ContactImport.Target.SUPPRESSIONS
    initial = {}
    if request.GET.get("list", "").isdigit():
        initial["contact_list"] = ContactList.objects.filter(pk=request.GET["list"]).first()
    form = ImportUploadForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        suppressions=suppressions,
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        contact_list = None if suppressions else form.cleaned_data["contact_list"]
        try:
            job = services.import_upload(
                uploaded=form.cleaned_data["file"],
                user=request.user,
                target=ContactImport.Target.SUPPRESSIONS
                if suppressions
                else ContactImport.Target.LIST,
                contact_list=contact_list,
            )
        except ImportFileError as exc:
            form.add_error("file", str(exc))
        else:
            if not suppressions and contact_list is None:
                job.contact_list = services.list_create(
                    name=form.cleaned_data["new_list_name"], user=request.user
                )
                job.save(update_fields=["contact_list"])
            return redirect("contacts:import", pk=job.pk)
    return render(
        request,
        "contacts/import_new.html",
        {"form": form, "suppressions": suppressions},
        status=400 if form.errors else 200,
    )


def import_detail(request, pk):
    job = get_object_or_404(ContactImport.objects.select_related("contact_list"), pk=pk)
    form = None
    if job.state == ContactImport.State.MAPPING:
        roles.require(roles.can_send, request.user)
        form = ImportMappingForm(
            request.POST if request.method == "POST" else None,
            contact_import=job,
            initial={"has_header": job.has_header},
        )
        if request.method == "POST" and form.is_valid():
            services.import_start(
                contact_import=job,
                mapping=form.cleaned_data["mapping"],
                default_country=form.cleaned_data["default_country"],
                has_header=form.cleaned_data["has_header"],
                user=request.user,
            )
            return redirect("contacts:import", pk=pk)
    context = {
        "job": job,
        "form": form,
        "stalled": services.import_is_stalled(job),
        "eta": services.import_eta_seconds(job),
        "has_report": services.import_error_report(job) is not None,
    }
    if request.htmx and request.GET.get("part") == "progress":
        return render(request, "contacts/import_detail.html#progress", context)
    return render(
        request, "contacts/import_detail.html", context, status=400 if form and form.errors else 200
    )


@require_POST
def import_restart(request, pk):
    roles.require(roles.can_send, request.user)
    job = get_object_or_404(ContactImport, pk=pk)
    if services.import_restart(contact_import=job, user=request.user):
        flash.success(request, "The import starts again from the top of the file.")
    else:
        flash.error(request, "Only a failed or stalled import can be started again.")
    return redirect("contacts:import", pk=pk)


def import_errors(request, pk):
    job = get_object_or_404(ContactImport, pk=pk)
    path = services.import_error_report(job)
    if path is None:
        raise Http404("This import has no error report.")
    stem = job.original_name.rsplit(".", 1)[0][:60] or "import"
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=f"{stem}-errors.csv",
        content_type="text/csv; charset=utf-8",
    )


# --------------------------------------------------------------- contacts


def contact_index(request):
    query = request.GET.get("q", "").strip()
    country = request.GET.get("country", "")
    results, next_url = [], ""
    if query:
        results, next_url = _keyset(
            selectors.contact_search(query, country).order_by("-id"), request
        )
    return render(
        request,
        "contacts/contacts.html",
        {"query": query, "contacts": results, "next_url": next_url},
    )


def contact_detail(request, pk):
    contact = get_object_or_404(Contact, pk=pk)
    history = selectors.message_history(contact)
    page, next_url = _keyset(history, request)
    return render(
        request,
        "contacts/contact_detail.html",
        {
            "contact": contact,
            "lists": contact.lists.all(),
            "suppression": services.suppression_for_contact(contact),
            "messages_page": page,
            "next_url": next_url,
            "attributes": sorted(contact.attributes.items()),
            "consent_events": contact.consent_events.select_related("created_by")[:50],
            "consent_choices": Consent.choices,
        },
    )


@require_POST
def contact_consent(request, pk):
    roles.require(roles.can_send, request.user)
    contact = get_object_or_404(Contact, pk=pk)
    state = request.POST.get("state", "")
    if state not in Consent.values:
        flash.error(request, "Choose opted in, unknown or opted out.")
    else:
        services.consent_set(
            contact=contact, state=state, note=request.POST.get("note", "")[:200], user=request.user
        )
        flash.success(request, f"Consent recorded: {Consent(state).label}.")
    return redirect(reverse("contacts:contact", args=[contact.pk]) + "#consent")


# --------------------------------------------------------------- segments


def segment_index(request):
    return render(request, "contacts/segments.html", {"segments": Segment.objects.all()})


def segment_edit(request, pk=None):
    roles.require(roles.can_send, request.user)
    segment = get_object_or_404(Segment, pk=pk) if pk else None
    data = request.POST if request.method == "POST" else None
    form = SegmentForm(data, instance=segment)
    initial = segment.conditions if segment else [{"field": "country", "op": "in"}]
    conditions = ConditionFormSet(data, initial=initial, prefix="cond")
    if request.method == "POST" and form.is_valid() and conditions.is_valid():
        picked = [
            f.cleaned_data["condition"] for f in conditions if f.cleaned_data.get("condition")
        ]
        if not picked:
            form.add_error(None, "Add at least one condition.")
        else:
            segment = services.segment_save(
                segment=segment,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                match=form.cleaned_data["match"],
                conditions=picked,
                user=request.user,
            )
            flash.success(request, f"Segment “{segment}” saved.")
            return redirect("contacts:segment", pk=segment.pk)
    return render(
        request,
        "contacts/segment_edit.html",
        {
            "form": form,
            "conditions": conditions,
            "segment": segment,
            "value_names": segments.value_suggestions(),
        },
        status=400 if form.errors or conditions.total_error_count() else 200,
    )


def segment_detail(request, pk):
    segment = get_object_or_404(Segment, pk=pk)
    contacts = segments.contacts(segment).annotate(
        suppressed=Exists(Suppression.objects.filter(phone=OuterRef("phone")))
    )
    page, next_url = _keyset(contacts.order_by("-id"), request)
    return render(
        request,
        "contacts/segment_detail.html",
        {
            "segment": segment,
            "described": [segments.describe(c) for c in segment.conditions],
            "size": contacts.count(),
            "contacts": page,
            "next_url": next_url,
        },
    )


def segment_export(request, pk):
    roles.require(roles.can_export_csv, request.user)
    segment = get_object_or_404(Segment, pk=pk)
    return exports.csv_response(
        exports.contact_rows(segments.contacts(segment)), f"segment-{segment.name}"
    )


@require_POST
def segment_to_list(request, pk):
    roles.require(roles.can_send, request.user)
    segment = get_object_or_404(Segment, pk=pk)
    name = request.POST.get("name", "").strip() or segment.name
    if ContactList.objects.filter(name__iexact=name).exists():
        flash.error(request, f"There is already a list called “{name}”; give another name.")
        return redirect("contacts:segment", pk=pk)
    contact_list = services.segment_to_list(segment=segment, name=name, user=request.user)
    flash.success(request, f"List “{contact_list}” made from the segment.")
    return redirect("contacts:list", pk=contact_list.pk)


@require_POST
def segment_delete(request, pk):
    roles.require(roles.can_send, request.user)
    segment = get_object_or_404(Segment, pk=pk)
    services.audit.record("segment.delete", actor=request.user, obj=segment)
    segment.delete()
    flash.success(request, f"Segment “{segment}” deleted.")
    return redirect("contacts:segments")


# ----------------------------------------------------------- suppressions


def suppression_index(request):
    form = SuppressionForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        roles.require(roles.can_send, request.user)
        if form.is_valid():
            suppression = services.suppression_add(
                phone=form.cleaned_data["number"].e164,
                note=form.cleaned_data["note"],
                user=request.user,
            )
            flash.success(request, f"{suppression.phone} will not be sent to.")
            return redirect("contacts:suppressions")
    query = request.GET.get("q", "").strip()
    suppressions = Suppression.objects.select_related("created_by").order_by("-id")
    if query:
        digits = "".join(ch for ch in query if ch.isdigit()).lstrip("0")
        suppressions = suppressions.filter(phone__contains=digits or query)
    page, next_url = _keyset(suppressions, request)
    return render(
        request,
        "contacts/suppressions.html",
        {"form": form, "suppressions": page, "next_url": next_url, "query": query},
        status=400 if form.errors else 200,
    )


@require_POST
def suppression_remove(request, pk):
    roles.require(roles.can_send, request.user)
    suppression = get_object_or_404(Suppression, pk=pk)
    services.suppression_remove(suppression=suppression, user=request.user)
    flash.success(request, f"{suppression.phone} can be sent to again.")
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return redirect(back)
    return redirect("contacts:suppressions")


def suppression_export(request):
    roles.require(roles.can_export_csv, request.user)
    return exports.csv_response(exports.suppression_rows(), "suppressions")
