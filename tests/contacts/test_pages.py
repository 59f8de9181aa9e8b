"""The contact pages over HTTP, as each role uses them."""

import csv
import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Message
from contacts import services
from contacts.models import (
    Contact,
    ContactImport,
    ContactList,
    ListMembership,
    Segment,
    Suppression,
)
from smsportal.models import AuditLogEntry

pytestmark = pytest.mark.django_db(transaction=True)


def upload(client, content: bytes, name="people.csv", **data):
    return client.post(
        reverse("contacts:import_new") + data.pop("query", ""),
        {"file": SimpleUploadedFile(name, content), **data},
    )


def read_csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def test_a_manager_imports_a_file_into_a_new_list_and_gets_the_error_report(manager_client):
    content = (
        "Mobile;Vorname;Nachname;Stadt\n"
        "0151 12345601;Anna;Schmidt;Berlin\n"
        "+49 151 12345602;Ben;Meyer;Köln\n"
        "12;Bad;Number;Nowhere\n"
    ).encode("cp1252")
    response = upload(manager_client, content, contact_list="", new_list_name="Messe 2025")
    job = ContactImport.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("contacts:import", args=[job.pk])

    page = manager_client.get(response["Location"]).content.decode()
    assert "Which column is what?" in page
    assert "0151 12345601" in page  # a first value beside each column

    response = manager_client.post(
        reverse("contacts:import", args=[job.pk]),
        {
            "col_0": "phone",
            "col_1": "first_name",
            "col_2": "",
            "col_3": "attr:stadt",
            "has_header": "on",
            "default_country": "DE",
        },
    )
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.state == "completed"
    assert (job.rows_read, job.added, job.rows_invalid) == (3, 2, 1)
    assert ContactList.objects.get(name="Messe 2025").contacts.count() == 2
    assert Contact.objects.get(phone="+4915112345602").attributes == {"stadt": "Köln"}

    page = manager_client.get(reverse("contacts:import", args=[job.pk])).content.decode()
    assert "Download the error report" in page
    assert "hx-trigger" not in page  # finished: no more polling
    report = manager_client.get(reverse("contacts:import_errors", args=[job.pk]))
    rows = read_csv(report) if report.streaming else None
    assert rows[0] == ["row", "Mobile", "Vorname", "Nachname", "Stadt", "reason"]
    assert rows[1][:2] == ["4", "12"]
    assert "phone number" in rows[1][-1]


def test_the_progress_part_polls_while_an_import_runs(manager_client, manager):
    contact_list = ContactList.objects.create(name="Running")
    job = ContactImport.objects.create(
        contact_list=contact_list,
        original_name="big.csv",
        stored_name="x.csv",
        file_format="csv",
        size_bytes=1000,
        bytes_read=250,
        rows_read=5000,
        state="running",
        columns=["phone"],
        created_by=manager,
    )
    services.ContactImport.objects.filter(pk=job.pk).update(
        started_at=services.timezone.now() - services.timedelta(seconds=10),
        heartbeat_at=services.timezone.now(),
    )
    response = manager_client.get(
        reverse("contacts:import", args=[job.pk]) + "?part=progress", HTTP_HX_REQUEST="true"
    )
    part = response.content.decode()
    assert part.lstrip().startswith('<div id="import-progress"')
    assert 'hx-trigger="every 1s"' in part
    assert "25.0%" in part and "about 30 s left" in part
    assert "5,000" in part


def test_a_stalled_import_is_shown_and_can_be_started_again(manager_client, manager, import_dir):
    contact_list = ContactList.objects.create(name="Stalled")
    import_dir.mkdir(parents=True, exist_ok=True)
    (import_dir / "s.csv").write_text("phone\n+4915112345601\n")
    job = ContactImport.objects.create(
        contact_list=contact_list,
        original_name="s.csv",
        stored_name="s.csv",
        file_format="csv",
        encoding="utf-8",
        delimiter=",",
        columns=["phone"],
        mapping={"0": "phone"},
        state="running",
        created_by=manager,
    )
    ContactImport.objects.filter(pk=job.pk).update(
        heartbeat_at=services.timezone.now() - services.timedelta(minutes=10)
    )
    page = manager_client.get(reverse("contacts:import", args=[job.pk])).content.decode()
    assert "stopped reporting" in page
    response = manager_client.post(reverse("contacts:import_restart", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.state == "completed"
    assert contact_list.contacts.count() == 1


@pytest.mark.parametrize(
    "content, name, message",
    [
        (b"", "empty.csv", "file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "photo.csv", "binary data"),
        (b"phone;name\n", "header.csv", "header row and no contacts"),
    ],
)
def test_a_bad_file_is_refused_on_the_upload_form(manager_client, content, name, message):
    response = upload(manager_client, content, name=name, contact_list="", new_list_name="X")
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ContactImport.objects.exists()
    assert not ContactList.objects.filter(name="X").exists()


def test_roles_decide_who_imports_and_who_exports(client, analyst, manager, customers):
    client.force_login(analyst)
    assert client.get(reverse("contacts:import_new")).status_code == 403
    assert client.get(reverse("contacts:list", args=[customers.pk])).status_code == 200
    assert client.get(reverse("contacts:list_export", args=[customers.pk])).status_code == 200
    assert client.post(reverse("contacts:list_delete", args=[customers.pk])).status_code == 403
    # Every role exports what it reads, on the pages as through the API.
    client.force_login(manager)
    assert client.get(reverse("contacts:list_export", args=[customers.pk])).status_code == 200
    assert client.get(reverse("contacts:suppression_export")).status_code == 200


def test_a_list_is_renamed_trimmed_and_deleted_but_its_contacts_stay(manager_client, customers):
    response = manager_client.post(
        reverse("contacts:list_edit", args=[customers.pk]),
        {"rename-name": "Best customers", "rename-description": "2025"},
    )
    assert response.status_code == 302
    customers.refresh_from_db()
    assert customers.name == "Best customers"
    anna = Contact.objects.get(phone="+4915112345601")
    manager_client.post(
        reverse("contacts:list_remove", args=[customers.pk]), {"contact": [anna.pk]}
    )
    assert customers.contacts.count() == 3
    manager_client.post(reverse("contacts:list_delete", args=[customers.pk]))
    assert not ContactList.objects.filter(pk=customers.pk).exists()
    assert Contact.objects.count() == 4
    # Memberships go with the list (kept by Django, not a database constraint).
    assert not ListMembership.objects.filter(contact_list_id=customers.pk).exists()
    assert AuditLogEntry.objects.filter(action="list.delete").exists()


def test_a_deleted_contact_leaves_its_lists(customers):
    anna = Contact.objects.get(phone="+4915112345601")
    anna.delete()
    assert not ListMembership.objects.filter(contact_id=anna.pk).exists()
    assert customers.contacts.count() == 3


def test_a_list_a_running_campaign_sends_to_cannot_be_deleted(manager_client, draft, customers):
    draft.state = "running"
    draft.save()
    response = manager_client.post(
        reverse("contacts:list_delete", args=[customers.pk]), follow=True
    )
    assert "not finished" in response.content.decode()
    assert ContactList.objects.filter(pk=customers.pk).exists()


def test_contacts_are_found_by_any_number_format_and_by_name(manager_client, customers):
    for query in ("+49 151 12345601", "0049151-12345601", "12345601"):
        page = manager_client.get(reverse("contacts:contacts"), {"q": query}).content.decode()
        # Shown as people read them.
        assert "+49 1511 2345601" in page, query
        assert "+49 1511 2345602" not in page, query
    page = manager_client.get(reverse("contacts:contacts"), {"q": "lucas"}).content.decode()
    assert "+33 6 12 34 99 99" in page and "+49 1511 2345601" not in page


def test_the_contact_page_shows_attributes_lists_and_message_history(
    manager_client, draft, customers, sandbox
):
    anna = Contact.objects.get(phone="+4915112345601")
    anna.attributes = {"city": "Berlin"}
    anna.save()
    Message.objects.create(
        campaign=draft, contact=anna, phone=anna.phone, account=sandbox, text="Hi Anna, 20% off"
    )
    page = manager_client.get(reverse("contacts:contact", args=[anna.pk])).content.decode()
    assert "Berlin" in page and "Customers" in page
    assert "Hi Anna, 20% off" in page and "Spring sale" in page


def test_removing_a_suppression_is_audit_logged(manager_client, manager):
    response = manager_client.post(
        reverse("contacts:suppressions"),
        {"phone": "0151 12345601", "country": "DE", "note": "asked"},
    )
    assert response.status_code == 302
    suppression = Suppression.objects.get(phone="+4915112345601")
    manager_client.post(reverse("contacts:suppression_remove", args=[suppression.pk]))
    assert not Suppression.objects.exists()
    entry = AuditLogEntry.objects.get(action="suppression.remove")
    assert (entry.actor, entry.object_repr) == (manager, "+4915112345601 (Added by hand)")


def test_an_invalid_number_to_suppress_gets_an_error_on_the_form(manager_client):
    response = manager_client.post(reverse("contacts:suppressions"), {"phone": "12", "note": ""})
    assert response.status_code == 400
    assert "Not a number we can send to" in response.content.decode()
    assert not Suppression.objects.exists()


def test_suppressions_are_imported_from_a_file(manager_client):
    response = upload(
        manager_client, b"+4915112345601\n+4915112345602\n", query="?target=suppressions"
    )
    job = ContactImport.objects.get()
    assert response.status_code == 302 and job.target == "suppressions"
    manager_client.post(
        reverse("contacts:import", args=[job.pk]), {"col_0": "phone", "default_country": ""}
    )
    assert set(Suppression.objects.values_list("phone", "reason")) == {
        ("+4915112345601", "imported"),
        ("+4915112345602", "imported"),
    }


def test_a_segment_is_built_in_the_browser_form_exported_and_frozen_into_a_list(
    client, manager, admin_user, customers
):
    client.force_login(manager)
    anna = Contact.objects.get(phone="+4915112345601")
    anna.attributes = {"city": "Berlin"}
    anna.save()
    form = {
        "name": "Germans in Berlin",
        "description": "",
        "match": "all",
        "cond-TOTAL_FORMS": "2",
        "cond-INITIAL_FORMS": "0",
        "cond-0-field": "country",
        "cond-0-op": "in",
        "cond-0-value": "de",
        "cond-1-field": "attribute",
        "cond-1-op": "equals",
        "cond-1-key": "City",
        "cond-1-value": "Berlin",
    }
    response = client.post(reverse("contacts:segment_create"), form)
    segment = Segment.objects.get()
    assert response.status_code == 302
    assert segment.conditions[0]["value"] == "DE"
    page = client.get(reverse("contacts:segment", args=[segment.pk])).content.decode()
    assert '<span data-count="segment-size">1</span>' in page

    client.post(reverse("contacts:segment_to_list", args=[segment.pk]), {"name": "Berlin"})
    assert list(ContactList.objects.get(name="Berlin").contacts.all()) == [anna]

    client.force_login(admin_user)
    rows = read_csv(client.get(reverse("contacts:segment_export", args=[segment.pk])))
    assert rows[0] == [
        "phone", "first_name", "last_name", "country", "time_zone", "created_at", "city"
    ]  # fmt: skip
    assert [r[0] for r in rows[1:]] == ["+4915112345601"]


def test_a_condition_with_a_bad_value_is_refused_where_it_was_typed(manager_client):
    response = manager_client.post(
        reverse("contacts:segment_create"),
        {
            "name": "Broken",
            "match": "all",
            "cond-TOTAL_FORMS": "1",
            "cond-INITIAL_FORMS": "0",
            "cond-0-field": "created",
            "cond-0-op": "before",
            "cond-0-value": "last tuesday",
        },
    )
    assert response.status_code == 400
    assert "YYYY-MM-DD" in response.content.decode()
    assert not Segment.objects.exists()


def test_the_list_page_keeps_the_paste_form_and_pages_through_members(manager_client):
    contact_list = ContactList.objects.create(name="Many")
    contacts = Contact.objects.bulk_create(
        Contact(phone=f"+49151{20000000 + i}") for i in range(60)
    )
    ListMembership.objects.bulk_create(
        ListMembership(contact_list=contact_list, contact=c) for c in contacts
    )
    # Written past the services, so counted as they count.
    ContactList.recount_members([contact_list.pk])
    page = manager_client.get(reverse("contacts:list", args=[contact_list.pk])).content.decode()
    assert 'name="numbers"' in page and "Add to list" in page
    assert "Next →" in page and "60 contact(s)" in page


def test_an_import_says_how_long_it_took_in_words_people_use():
    start = timezone.now()
    job = ContactImport(started_at=start, finished_at=start + dt.timedelta(seconds=30.6))
    assert job.took == "31 seconds"
    job.finished_at = start + dt.timedelta(seconds=1)
    assert job.took == "1 second"
    job.finished_at = start + dt.timedelta(minutes=14, seconds=50)
    assert job.took == "15 minutes"
    assert ContactImport(started_at=start).took == ""
