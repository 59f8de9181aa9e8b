"""A list's member count is a stored figure, kept by every path that changes
its members, and always equal to the memberships in the database."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from contacts import services
from contacts.models import Contact, ContactList, ListMembership, Segment

pytestmark = pytest.mark.django_db


def counted(contact_list: ContactList) -> int:
    contact_list.refresh_from_db()
    # The figure shown must be the database's own count.
    assert (
        contact_list.member_count
        == ListMembership.objects.filter(contact_list=contact_list).count()
    )
    return contact_list.member_count


ROWS = [{"phone": "+4915112345601"}, {"phone": "+4915112345602"}, {"phone": "+33612345605"}]


def test_adding_and_removing_contacts_keeps_the_count():
    vip = services.list_create(name="VIP")
    assert counted(vip) == 0
    services.list_add_contacts(contact_list=vip, rows=ROWS)
    assert counted(vip) == 3
    services.list_add_contacts(contact_list=vip, rows=ROWS[:1])  # already in: no change
    assert counted(vip) == 3
    french = Contact.objects.filter(phone="+33612345605").values_list("id", flat=True)
    services.list_remove_contacts(contact_list=vip, contact_ids=french)
    assert counted(vip) == 2


def test_an_import_and_a_frozen_segment_count_their_members(
    manager, django_capture_on_commit_callbacks
):
    imported = ContactList.objects.create(name="Imported")
    job = services.import_upload(
        uploaded=SimpleUploadedFile(
            "people.csv", b"phone\n+4915112345601\n+4915112345602\n+4915112345602\nbad\n"
        ),
        user=manager,
        contact_list=imported,
    )
    job.mapping, job.state = {"0": "phone"}, "queued"
    job.save()
    job = services.import_run(job.pk)
    assert job.state == "completed"
    assert counted(imported) == 2

    segment = services.segment_save(
        name="Germany",
        description="",
        match=Segment.Match.ALL,
        conditions=[{"field": "country", "op": "in", "key": "", "value": "DE"}],
        user=manager,
    )
    frozen = services.segment_to_list(segment=segment, name="Germany now", user=manager)
    assert counted(frozen) == 2


def test_the_pages_show_the_stored_count(manager_client):
    vip = services.list_create(name="VIP")
    services.list_add_contacts(contact_list=vip, rows=ROWS)

    index = manager_client.get(reverse("contacts:lists")).content.decode()
    detail = manager_client.get(reverse("contacts:list", args=[vip.pk])).content.decode()

    assert f"{counted(vip)} contact(s)" in detail
    assert '<td class="num">3</td>' in index


def test_deleting_contacts_in_the_admin_recounts_their_lists(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "x"))
    vip = services.list_create(name="VIP")
    services.list_add_contacts(contact_list=vip, rows=ROWS)
    ids = list(Contact.objects.filter(phone__startswith="+49").values_list("id", flat=True))

    response = client.post(
        reverse("admin:contacts_contact_changelist"),
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
    )

    assert response.status_code == 302
    assert counted(vip) == 1
