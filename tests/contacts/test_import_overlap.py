"""A large file on PostgreSQL is merged in chunks while it is still being
read, on a connection of its own, inside one transaction. These tests make
every file "large" and the chunks tiny, so numbers repeat across chunks,
and check that the result and the counts are those of a merge at the end,
and that a failure anywhere leaves nothing behind."""

import pytest
from django.db import connection

from contacts import imports
from contacts.imports import ImportFileError, merge, run_import
from contacts.models import Contact, ContactList, ListMembership, Suppression

# The merging connection commits: the rows must be really committed for it
# to see them, and are cleaned up after each test.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the merge overlaps reading on PostgreSQL"
    ),
]

MAPPING = {"phone": "phone", "first name": "first_name", "last name": "last_name"}


@pytest.fixture(autouse=True)
def overlap(monkeypatch):
    monkeypatch.setattr(imports, "OVERLAP_MIN_BYTES", 0)
    # Rows reach the merging thread a batch at a time; a chunk is merged
    # once it holds at least MERGE_CHUNK_ROWS.
    monkeypatch.setattr(imports, "BATCH_ROWS", 2)
    monkeypatch.setattr(imports, "MERGE_CHUNK_ROWS", 2)
    merged = []
    original = imports._Merger._merge_chunk

    def counting(self, cursor, now):
        merged.append(self.name)
        return original(self, cursor, now)

    monkeypatch.setattr(imports._Merger, "_merge_chunk", counting)
    return merged


@pytest.fixture
def newsletter():
    return ContactList.objects.create(name="Newsletter")


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_chunks_merge_to_what_one_merge_would_and_count_each_contact_once(
    tmp_path, newsletter, overlap
):
    anna = Contact.objects.create(phone="+4915112345601", first_name="Anna", attributes={"a": 1})
    ListMembership.objects.create(contact_list=newsletter, contact=anna)
    Contact.objects.create(phone="+4915112345602", first_name="Ben", last_name="Meyer")
    path = write(
        tmp_path,
        "people.csv",
        "phone,first name,last name\n"
        "+4915112345601,,Schmidt\n"  # existing: updated
        "+4915112345602,Ben,Meyer\n"  # existing, nothing new: left alone
        "+4915112345603,Cleo,\n"  # new
        "0151 12345604,Dan,Weber\n"  # new
        "nope,Eve,\n"  # invalid
        "+4915112345603,Cleo,Weber\n"  # chunk 2 repeats chunk 1's new contact
        "+49 151 12345601,Annika,Schmidt\n"  # and changes the updated one again
        "+4915112345605,Finn,\n"
        "+4915112345604,Daniel,\n",  # a later row's value wins
    )

    summary = run_import(path, contact_list=newsletter, mapping=MAPPING, default_country="DE")

    assert len(overlap) >= 3  # merged in chunks
    assert (summary.rows_read, summary.rows_valid, summary.rows_invalid) == (9, 8, 1)
    # Five numbers: 01 updated (twice: counted once), 02 left alone,
    # 03/04/05 created (03 and 04 changed again later: still created once).
    assert (summary.created, summary.updated) == (3, 1)
    # 01 was on the list already; 02, 03, 04, 05 are added once each.
    assert (summary.added, summary.duplicates) == (4, 4)
    people = {c.phone: c for c in Contact.objects.all()}
    assert len(people) == 5
    assert (people["+4915112345601"].first_name, people["+4915112345601"].last_name) == (
        "Annika",
        "Schmidt",
    )
    assert people["+4915112345601"].attributes == {"a": 1}
    assert (people["+4915112345603"].first_name, people["+4915112345603"].last_name) == (
        "Cleo",
        "Weber",
    )
    assert (people["+4915112345604"].first_name, people["+4915112345604"].last_name) == (
        "Daniel",
        "Weber",
    )
    assert newsletter.contacts.count() == 5
    assert ListMembership.objects.count() == 5


def test_running_it_again_duplicates_nothing(tmp_path, newsletter):
    lines = "".join(f"+49151{20000000 + i},P{i},\n" for i in range(10))
    path = write(tmp_path, "again.csv", "phone,first name,last name\n" + lines)
    first = run_import(path, contact_list=newsletter, mapping=MAPPING)
    second = run_import(path, contact_list=newsletter, mapping=MAPPING)
    assert (first.created, first.updated, first.added) == (10, 0, 10)
    assert (second.created, second.updated, second.added, second.duplicates) == (0, 0, 0, 10)
    assert Contact.objects.count() == 10
    assert ListMembership.objects.count() == 10


def test_a_failure_after_chunks_were_merged_leaves_nothing(tmp_path, newsletter, overlap):
    path = tmp_path / "late-line.csv"
    with path.open("w") as handle:
        handle.write("phone\n")
        for i in range(imports.BATCH_ROWS + 50):
            handle.write(f"+49151{30000000 + i}\n")
        handle.write("+4915199999999," + "y" * (imports.MAX_LINE_CHARS + 10) + "\n")
    with pytest.raises(ImportFileError, match="is longer"):
        run_import(path, contact_list=newsletter, mapping={0: "phone"}, processes=1)
    assert overlap  # some chunks had been merged before the bad line
    assert not Contact.objects.exists()
    assert not ListMembership.objects.exists()


def test_a_database_error_while_merging_fails_the_import_and_keeps_nothing(
    tmp_path, newsletter, monkeypatch
):
    calls = []
    original = merge._merge_chunk_contacts

    def fail_on_the_second(cursor, contact_list_id, now):
        calls.append(1)
        if len(calls) == 2:
            cursor.execute("SELECT 1 / 0")
        return original(cursor, contact_list_id, now)

    monkeypatch.setattr(merge, "_merge_chunk_contacts", fail_on_the_second)
    lines = "".join(f"+49151{40000000 + i}\n" for i in range(12))
    path = write(tmp_path, "boom.csv", "phone\n" + lines)
    with pytest.raises(Exception, match="division by zero"):
        run_import(path, contact_list=newsletter, mapping={0: "phone"})
    assert len(calls) == 2
    assert not Contact.objects.exists()
    assert not ListMembership.objects.exists()


def test_utf8_breaking_late_is_read_again_without_doubling(tmp_path, newsletter, monkeypatch):
    monkeypatch.setattr(imports, "BATCH_ROWS", 1000)
    monkeypatch.setattr(imports, "MERGE_CHUNK_ROWS", 2500)
    filler = "".join(f"+49151{10000000 + i},Name{i},X\n" for i in range(12_000))
    path = write(
        tmp_path,
        "late.csv",
        "phone,first name,last name\n" + filler + "+4915199999999,Renée,Ç\n",
        "cp1252",
    )
    summary = run_import(path, contact_list=newsletter, mapping=MAPPING)
    assert (summary.rows_valid, summary.created, summary.added) == (12_001, 12_001, 12_001)
    assert Contact.objects.get(phone="+4915199999999").first_name == "Renée"
    assert ListMembership.objects.count() == 12_001


def test_suppressions_merge_in_chunks_too(tmp_path, manager):
    lines = "".join(f"+49151{50000000 + i % 7}\n" for i in range(10))
    path = write(tmp_path, "stop.csv", "phone\n" + lines)
    summary = run_import(path, mapping={0: "phone"}, suppress=True, user=manager)
    assert (summary.rows_valid, summary.added, summary.duplicates) == (10, 7, 3)
    assert Suppression.objects.count() == 7
    assert set(Suppression.objects.values_list("created_by", flat=True)) == {manager.pk}


def test_a_file_of_a_thousand_chunks_fits_in_one_transaction(tmp_path, newsletter, overlap):
    """Each chunk reuses the same work tables: a new table per chunk would
    hold a lock until the commit and run out of them on a long file."""
    lines = "".join(f"+49151{60000000 + i}\n" for i in range(2_000))
    path = write(tmp_path, "long.csv", "phone\n" + lines)
    summary = run_import(path, contact_list=newsletter, mapping={0: "phone"}, processes=1)
    assert len(overlap) == 1_000
    assert (summary.created, summary.added) == (2_000, 2_000)
    assert newsletter.contacts.count() == 2_000
