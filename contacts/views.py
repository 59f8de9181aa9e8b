from django.contrib import messages as flash
from django.db.models import Exists, OuterRef
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from smsportal import roles
from smsportal.phones import country_choices, default_country

from . import exports, segments, selectors, services
from .forms import (
    CONDITION_KEYS,
    OWN_TIME_ZONE,
    AddContactsForm,
    AttributeFormSet,
    ConditionFormSet,
    ContactEditForm,
    ContactListForm,
    ImportMappingForm,
    ImportUploadForm,
    SegmentForm,
    SuppressionForm,
    attributes_from,
    change_rows,
    condition_rows,
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
    form = AddContactsForm(
        request.POST if request.method == "POST" else None,
        initial={"country": default_country()},
    )
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
            initial={"has_header": job.has_header, "default_country": default_country()},
        )
        if request.GET.get("part") == "preview":
            return render(
                request, "contacts/import_detail.html#preview", _import_preview(job, form)
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
        **(_import_preview(job, form) if form else {}),
        "stalled": services.import_is_stalled(job),
        "eta": services.import_eta_seconds(job),
        "has_report": services.import_error_report(job) is not None,
    }
    if request.htmx and request.GET.get("part") == "progress":
        return render(request, "contacts/import_detail.html#progress", context)
    return render(
        request, "contacts/import_detail.html", context, status=400 if form and form.errors else 200
    )


def _import_preview(job, form) -> dict:
    """The first rows as the mapping form's choices will read them."""
    mapping, country, has_header = form.chosen()
    rows, problem = selectors.import_preview(
        job, mapping=mapping, default_country=country, has_header=has_header
    )
    return {
        "preview_rows": rows,
        "preview_problem": problem,
        "preview_country": country,
        "preview_country_name": dict(country_choices()).get(country, country),
    }


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


def contact_edit(request, pk):
    roles.require(roles.can_send, request.user)
    contact = get_object_or_404(Contact, pk=pk)
    post = request.method == "POST"
    form = ContactEditForm(request.POST if post else None, contact=contact)
    kept = sorted((k, v) for k, v in (contact.attributes or {}).items() if k != OWN_TIME_ZONE)
    rows = AttributeFormSet(
        request.POST if post else None,
        initial=[{"key": k, "value": v} for k, v in kept],
        prefix="attr",
    )
    if post and form.is_valid() and rows.is_valid():
        services.contact_update(
            contact=contact,
            first_name=form.cleaned_data["first_name"],
            last_name=form.cleaned_data["last_name"],
            attributes=attributes_from(contact, form.cleaned_data["own_time_zone"], rows),
            user=request.user,
        )
        flash.success(request, "Contact saved.")
        return redirect("contacts:contact", pk=pk)
    return render(
        request,
        "contacts/contact_edit.html",
        {"contact": contact, "form": form, "rows": rows},
        status=400 if post else 200,
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
    post = request.method == "POST"
    form = SegmentForm(request.POST if post else None, instance=segment)
    builder = request.POST.get("builder", "") if post else ""
    if builder:
        # Add or remove a condition without scripts: the page comes back
        # with the rows changed, nothing saved.
        form = SegmentForm(initial=_segment_form_initial(request.POST), instance=segment)
        rows = change_rows(condition_rows(request.POST), builder)
        return _segment_page(request, form, _condition_forms(rows), segment, rows, form.initial)
    if post:
        conditions = _condition_forms(request.POST)
        if form.is_valid() and conditions.is_valid():
            picked = conditions.conditions()
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
        rows = condition_rows(request.POST)
        return _segment_page(request, form, conditions, segment, rows, request.POST)
    rows = segment.conditions if segment else [{"field": "country", "op": "in"}]
    rows = change_rows([{k: str(r.get(k, "")) for k in CONDITION_KEYS} for r in rows], "")
    match = segment.match if segment else Segment.Match.ALL
    return _segment_page(request, form, _condition_forms(rows), segment, rows, {"match": match})


def _segment_form_initial(data) -> dict:
    return {name: data.get(name, "") for name in ("name", "description", "match")}


def _condition_forms(rows_or_data):
    """The condition rows as forms: bound to posted data, or showing rows."""
    names = segments.attribute_names()
    if isinstance(rows_or_data, list):
        return ConditionFormSet(initial=rows_or_data, prefix="cond", attribute_names=names)
    return ConditionFormSet(rows_or_data, prefix="cond", attribute_names=names)


def _segment_page(request, form, conditions, segment, rows, data):
    context = {
        "form": form,
        "conditions": conditions,
        "segment": segment,
        "evaluation": segments.evaluate(data.get("match", ""), rows),
        "country_names": country_choices(),
    }
    errors = form.errors or (conditions.is_bound and conditions.total_error_count())
    return render(request, "contacts/segment_edit.html", context, status=400 if errors else 200)


@require_POST
def segment_preview(request):
    """The builder as the user works: the live count of matching contacts,
    and with ``builder`` (add, remove-N, refresh) the conditions re-drawn."""
    roles.require(roles.can_send, request.user)
    rows = condition_rows(request.POST)
    builder = request.POST.get("builder", "")
    if builder:
        rows = change_rows(rows, builder)
    context = {
        "conditions": _condition_forms(rows),
        "evaluation": segments.evaluate(request.POST.get("match", ""), rows),
        "oob": bool(builder),
    }
    part = "builder_update" if builder else "count"
    return render(request, f"contacts/segment_edit.html#{part}", context)


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
