"""The import's mapping page: the site's country chosen in advance, extra
columns kept as attributes named after their headers, and the first rows
shown as they will be read (E.164 and country, or why they are rejected)
before anything is imported."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from contacts import selectors
from contacts.imports import preview_rows
from contacts.models import Contact, ContactImport
from smsportal.phones import default_country

pytestmark = pytest.mark.django_db

FILE = (
    b"Mobile;First name;City;Shoe size\n"
    b"0151 20000001;Anna;Berlin;38\n"
    b"+33 6 12 34 56 78;Lucas;Paris;44\n"
    b"12345;Broken;Bonn;40\n"
)


@pytest.fixture
def job(manager_client):
    manager_client.post(
        reverse("contacts:import_new"),
        {"file": SimpleUploadedFile("fair.csv", FILE), "new_list_name": "Fair"},
    )
    return ContactImport.objects.get()


def preview(client, job, **data):
    return client.post(
        reverse("contacts:import", args=[job.pk]) + "?part=preview",
        data,
        headers={"HX-Request": "true"},
    ).content.decode()


def test_the_site_country_is_chosen_and_extra_columns_become_attributes(
    manager_client, job, settings
):
    settings.DEFAULT_COUNTRY = "DE"
    page = manager_client.get(reverse("contacts:import", args=[job.pk])).content.decode()
    assert '<option value="DE" selected>' in page
    for column, target in ((0, "phone"), (1, "first_name"), (2, "attr:city")):
        select = page.split(f'name="col_{column}"')[1].split("</select>")[0]
        assert f'<option value="{target}" selected>' in select
    select = page.split('name="col_3"')[1].split("</select>")[0]
    assert '<option value="attr:shoe_size" selected>' in select


def test_the_first_rows_are_shown_as_the_import_will_read_them(
    manager_client, job, settings, django_capture_on_commit_callbacks
):
    settings.DEFAULT_COUNTRY = "DE"
    page = manager_client.get(reverse("contacts:import", args=[job.pk])).content.decode()
    assert 'data-preview="e164">+4915120000001<' in page
    assert 'data-preview="e164">+33612345678<' in page
    assert "phone number: not a valid number" in page

    mapping = {"col_0": "phone", "col_1": "first_name", "has_header": "on"}
    without = preview(manager_client, job, **mapping, default_country="")
    assert "<html" not in without
    assert "phone number: no country" in without  # the national number
    assert 'data-preview="e164">+33612345678<' in without

    # What the preview shows is what the import stores.
    with django_capture_on_commit_callbacks(execute=True):
        manager_client.post(
            reverse("contacts:import", args=[job.pk]),
            {**mapping, "col_2": "attr:city", "default_country": "DE"},
        )
    job.refresh_from_db()
    assert job.state == "completed"
    shown = preview_rows(
        job.sample_rows, job.columns, {"0": "phone", "1": "first_name"}, default_country="DE"
    )
    stored = dict(Contact.objects.values_list("phone", "country"))
    assert {r.e164: r.country for r in shown if not r.reason} == stored
    assert [r.reason for r in shown if r.reason] == ["phone number: not a valid number"]


def test_a_number_repeated_below_says_the_last_row_is_kept(
    manager_client, django_capture_on_commit_callbacks
):
    repeated = (
        b"Mobile;First name\n"
        b"0151 20000001;Anna\n"
        b"+33 6 12 34 56 78;Lucas\n"
        b"+49 151 20000001;Annette\n"
    )
    manager_client.post(
        reverse("contacts:import_new"),
        {"file": SimpleUploadedFile("twice.csv", repeated), "new_list_name": "Twice"},
    )
    job = ContactImport.objects.get()
    mapping = {"col_0": "phone", "col_1": "first_name", "has_header": "on"}
    page = preview(manager_client, job, **mapping, default_country="DE")
    assert page.count('data-preview="repeated"') == 1
    anna = page.index("0151 20000001")
    assert anna < page.index('data-preview="repeated"') < page.index("+33 6 12 34 56 78")

    # What the preview says is what the import keeps: the later row's name.
    with django_capture_on_commit_callbacks(execute=True):
        manager_client.post(
            reverse("contacts:import", args=[job.pk]), {**mapping, "default_country": "DE"}
        )
    assert Contact.objects.get(phone="+4915120000001").first_name == "Annette"


def test_a_preview_without_a_phone_column_says_so(manager_client, job):
    page = preview(manager_client, job, col_1="first_name", default_country="DE")
    assert "Choose exactly one column with the phone numbers." in page
    assert ContactImport.objects.get().state == "mapping"


def test_unticking_the_header_reads_the_first_row_as_a_contact(job):
    rows, problem = selectors.import_preview(
        job, mapping={"0": "phone"}, default_country="DE", has_header=False
    )
    assert problem == ""
    assert rows[0].phone == "Mobile" and rows[0].reason
    assert rows[1].e164 == "+4915120000001"


def test_the_site_country_comes_from_the_setting_or_an_unambiguous_zone(settings):
    settings.DEFAULT_COUNTRY = "at"
    assert default_country() == "AT"
    settings.DEFAULT_COUNTRY = ""
    settings.TIME_ZONE = "Europe/Berlin"
    assert default_country() == "DE"
    settings.TIME_ZONE = "UTC"
    assert default_country() == ""
