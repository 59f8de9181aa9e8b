"""An import's consent column becomes each contact's consent and a history
row naming the file and the row; and the same file imported under another
country is read under that country, in the same worker process."""

import pytest
from django.db import connection

from contacts import imports
from contacts.imports import run_import
from contacts.models import Consent, ConsentEvent, Contact, ContactList

MAPPING = {"phone": "phone", "consent": "consent"}

FILE = (
    "phone,consent\n"
    "+4915112345601,yes\n"
    "+4915112345602,no\n"
    "+4915112345603,2026-05-01\n"
    "+4915112345604,\n"
    "+4915112345605,maybe\n"
)


@pytest.fixture
def newsletter(db):
    return ContactList.objects.create(name="Newsletter")


def write(tmp_path, text, name="people.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def consent_of(phone):
    return Contact.objects.get(phone=phone).consent


def check_consent_import(path, newsletter, manager):
    summary = run_import(
        path,
        contact_list=newsletter,
        mapping=MAPPING,
        user=manager,
        processes=1,
        source_name="signups.csv",
    )

    assert (summary.rows_valid, summary.rows_invalid) == (4, 1)
    assert consent_of("+4915112345601") == Consent.OPTED_IN
    assert consent_of("+4915112345602") == Consent.OPTED_OUT
    assert consent_of("+4915112345603") == Consent.OPTED_IN
    assert consent_of("+4915112345604") == Consent.UNKNOWN
    events = {
        e.contact.phone: e
        for e in ConsentEvent.objects.select_related("contact", "created_by").all()
    }
    assert set(events) == {"+4915112345601", "+4915112345602", "+4915112345603"}
    first = events["+4915112345601"]
    assert (first.source, first.detail, first.created_by) == (
        ConsentEvent.Source.IMPORT,
        "signups.csv, row 2",
        manager,
    )
    assert events["+4915112345603"].detail == "signups.csv, row 4"
    with open(summary.error_report, encoding="utf-8-sig") as report:
        assert "consent: give yes, no or the date it was given" in report.read()


@pytest.mark.django_db
def test_a_consent_column_sets_consent_and_writes_history(tmp_path, newsletter, manager):
    check_consent_import(write(tmp_path, FILE), newsletter, manager)


@pytest.mark.django_db
def test_an_empty_consent_cell_never_changes_what_a_contact_has(tmp_path, newsletter, manager):
    Contact.objects.create(phone="+4915112345604", consent=Consent.OPTED_IN)

    run_import(write(tmp_path, FILE), contact_list=newsletter, mapping=MAPPING, processes=1)

    assert consent_of("+4915112345604") == Consent.OPTED_IN
    assert not ConsentEvent.objects.filter(contact__phone="+4915112345604").exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="chunked merge is PostgreSQL's")
def test_a_large_file_merged_in_chunks_records_consent_the_same_way(
    tmp_path, newsletter, manager, monkeypatch
):
    monkeypatch.setattr(imports, "OVERLAP_MIN_BYTES", 0)
    monkeypatch.setattr(imports, "BATCH_ROWS", 2)
    monkeypatch.setattr(imports, "MERGE_CHUNK_ROWS", 2)

    check_consent_import(write(tmp_path, FILE), newsletter, manager)


@pytest.mark.django_db
def test_the_same_file_under_another_country_is_read_under_that_country(tmp_path, newsletter):
    path = write(tmp_path, "phone\n0176 10033621\n015112345601\n")
    # One process for both imports: what it remembers of the first must not
    # decide the second.
    first = run_import(path, contact_list=newsletter, mapping={"phone": "phone"}, processes=1)
    assert (first.rows_valid, first.rows_invalid) == (0, 2)

    second = run_import(
        path,
        contact_list=newsletter,
        mapping={"phone": "phone"},
        default_country="DE",
        processes=1,
    )
    assert (second.rows_valid, second.rows_invalid) == (2, 0)
    assert set(Contact.objects.values_list("phone", "country")) == {
        ("+4917610033621", "DE"),
        ("+4915112345601", "DE"),
    }

    # And the other way round: a German reading is not kept for a file
    # imported with no country.
    Contact.objects.all().delete()
    third = run_import(path, contact_list=newsletter, mapping={"phone": "phone"}, processes=1)
    assert (third.rows_valid, third.rows_invalid) == (0, 2)
    assert not Contact.objects.exists()
