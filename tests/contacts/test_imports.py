"""The import service on real files: formats, encodings, dedupe and update
rules, the error report, and the corpus of files that must be refused."""

import csv
import io
import shutil
from pathlib import Path

import openpyxl
import pytest

from contacts import imports, services
from contacts.imports import ImportFileError, run_import
from contacts.models import Contact, ContactList, ListMembership, Suppression

FIXTURES = Path(__file__).parent / "fixtures"
MAPPING = {"phone": "phone", "first name": "first_name", "last name": "last_name"}

pytestmark = pytest.mark.django_db


@pytest.fixture
def newsletter(db):
    return ContactList.objects.create(name="Newsletter")


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def report_rows(summary):
    with open(summary.error_report, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def test_it_imports_national_and_international_numbers_with_semicolons(tmp_path, newsletter):
    path = write(
        tmp_path,
        "people.csv",
        "Mobile;First name;Last name;City\n"
        "+49 151 12345601;Anna;Schmidt;Berlin\n"
        "0151 12345602;Ben;Meyer;Köln\n"
        "0049-151-12345603;Cleo;;\n"
        "12345;Dan;Bad;Bonn\n"
        "0033 6 12 34 56 05;Élodie;Martin;Paris\n",
    )
    summary = run_import(
        path,
        contact_list=newsletter,
        mapping={"Mobile": "phone", "First name": "first_name", "Last name": "last_name",
                 "City": "attr:city"},
        default_country="DE",
    )  # fmt: skip
    assert (summary.rows_read, summary.rows_valid, summary.rows_invalid) == (5, 4, 1)
    assert (summary.created, summary.added, summary.duplicates) == (4, 4, 0)
    ben = Contact.objects.get(phone="+4915112345602")
    assert (ben.first_name, ben.last_name, ben.country) == ("Ben", "Meyer", "DE")
    assert ben.attributes == {"city": "Köln"}
    assert ben.time_zone == "Europe/Berlin"
    assert Contact.objects.get(phone="+4915112345603").attributes == {}
    assert Contact.objects.get(phone="+33612345605").first_name == "Élodie"
    assert newsletter.contacts.count() == 4
    rows = report_rows(summary)
    assert rows[0] == ["row", "Mobile", "First name", "Last name", "City", "reason"]
    assert rows[1][:5] == ["5", "12345", "Dan", "Bad", "Bonn"]
    assert rows[1][5].startswith("phone number:")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16", "utf-16-le"])
def test_it_reads_every_common_encoding(tmp_path, newsletter, encoding):
    text = (
        "phone,first name,last name\r\n"
        "+4915112345601,Jürgen,Müller\r\n+4915112345602,Zoë,Ørsted\r\n"
    )
    path = write(tmp_path, "people.csv", text, encoding)
    summary = run_import(path, contact_list=newsletter, mapping=MAPPING)
    assert summary.rows_valid == 2
    names = set(Contact.objects.values_list("first_name", "last_name"))
    assert names == {("Jürgen", "Müller"), ("Zoë", "Ørsted")}


def test_it_reads_the_file_again_as_windows_text_when_utf8_breaks_late(tmp_path, newsletter):
    filler = "".join(f"+49151{10000000 + i},Name{i},X\n" for i in range(12_000))
    path = write(
        tmp_path,
        "late.csv",
        "phone,first name,last name\n" + filler + "+4915199999999,Renée,Ç\n",
        "cp1252",
    )
    assert imports.inspect(path).encoding == "utf-8"  # the sample is plain ASCII
    summary = run_import(path, contact_list=newsletter, mapping=MAPPING)
    assert summary.rows_valid == 12_001
    assert Contact.objects.get(phone="+4915199999999").first_name == "Renée"


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_it_sniffs_the_delimiter(tmp_path, newsletter, delimiter):
    rows = [
        ["phone", "first name"],
        ["+4915112345601", "Anna, the first"],
        ["+4915112345602", "Ben"],
    ]
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    path = write(tmp_path, "people.csv", buffer.getvalue())
    assert imports.inspect(path).delimiter == delimiter
    run_import(
        path, contact_list=newsletter, mapping={"phone": "phone", "first name": "first_name"}
    )
    assert Contact.objects.get(phone="+4915112345601").first_name == "Anna, the first"


def test_it_reads_an_excel_workbook_with_numbers_typed_as_numbers(tmp_path, newsletter):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Phone", "Name", "Joined"])
    sheet.append([4915112345601, "Anna", "2024-01-02"])
    sheet.append([4915112345602.0, "Ben", None])
    sheet.append(["0151 12345603", "Cleo", 7])
    sheet.append([None, None, None])
    path = tmp_path / "people.xlsx"
    workbook.save(path)
    found = imports.inspect(path)
    assert (found.file_format, found.columns) == ("xlsx", ["Phone", "Name", "Joined"])
    summary = run_import(
        path,
        contact_list=newsletter,
        mapping={0: "phone", 1: "first_name", 2: "attr:joined"},
        default_country="DE",
    )
    # A number without "+" that starts with the default country's code is
    # still recognised (Excel drops the "+" when it stores a number).
    assert (summary.rows_valid, summary.rows_invalid) == (3, 0)
    assert Contact.objects.get(phone="+4915112345602").first_name == "Ben"
    assert Contact.objects.get(phone="+4915112345603").attributes == {"joined": "7"}


def test_duplicates_in_the_file_and_in_the_list_collapse_to_one_contact(tmp_path, newsletter):
    existing = Contact.objects.create(phone="+4915112345609", first_name="Old")
    ListMembership.objects.create(contact_list=newsletter, contact=existing)
    path = write(
        tmp_path,
        "dupes.csv",
        "phone,first name,last name\n"
        "+4915112345601,Anna,\n"
        "0151 12345601,Anna,Schmidt\n"  # the same number, written differently
        "+49 151 12345601,Anne,Schmidt\n"
        "+4915112345609,,\n",
    )
    summary = run_import(path, contact_list=newsletter, mapping=MAPPING, default_country="DE")
    assert Contact.objects.filter(phone="+4915112345601").count() == 1
    assert (summary.rows_valid, summary.created, summary.added, summary.duplicates) == (4, 1, 1, 3)
    assert newsletter.contacts.count() == 2
    # The last row for a number wins, and empty cells erase nothing.
    assert Contact.objects.get(phone="+4915112345601").first_name == "Anne"
    assert Contact.objects.get(phone="+4915112345609").first_name == "Old"


def test_existing_contacts_are_updated_not_duplicated(tmp_path, newsletter):
    other = ContactList.objects.create(name="Other")
    anna = Contact.objects.create(
        phone="+4915112345601",
        first_name="Anna",
        last_name="",
        attributes={"city": "Bonn", "vip": "yes"},
    )
    ListMembership.objects.create(contact_list=other, contact=anna)
    Contact.objects.create(phone="+4915112345602", first_name="Ben", last_name="Meyer")
    path = write(
        tmp_path,
        "update.csv",
        "phone,first name,last name,city\n"
        "+4915112345601,,Schmidt,Berlin\n"
        "+4915112345602,Ben,Meyer,\n"
        "+4915112345603,Cleo,Weber,Köln\n",
    )
    summary = run_import(path, contact_list=newsletter, mapping={**MAPPING, "city": "attr:city"})
    assert (summary.created, summary.updated, summary.added) == (1, 1, 3)
    anna.refresh_from_db()
    assert (anna.first_name, anna.last_name) == ("Anna", "Schmidt")
    assert anna.attributes == {"city": "Berlin", "vip": "yes"}
    assert set(anna.lists.values_list("name", flat=True)) == {"Other", "Newsletter"}
    assert Contact.objects.count() == 3


def test_running_an_import_again_duplicates_nothing(tmp_path, newsletter):
    path = write(tmp_path, "people.csv", "phone\n+4915112345601\n+4915112345602\nnope\n")
    first = run_import(path, contact_list=newsletter, mapping={"phone": "phone"})
    second = run_import(path, contact_list=newsletter, mapping={"phone": "phone"})
    assert (first.created, first.added) == (2, 2)
    assert (second.created, second.updated, second.added, second.duplicates) == (0, 0, 0, 2)
    assert Contact.objects.count() == 2
    assert ListMembership.objects.count() == 2


def test_a_file_of_many_batches_goes_through_the_process_pool(tmp_path, newsletter):
    count = imports.BATCH_ROWS * 2 + 500
    lines = ["phone,first name"]
    for i in range(count):
        lines.append(f"0151{20000000 + i},P{i}" if i % 10 else "unknown,Bad")
    path = write(tmp_path, "big.csv", "\n".join(lines) + "\n")
    seen = []
    summary = run_import(
        path,
        contact_list=newsletter,
        mapping={"phone": "phone", "first name": "first_name"},
        default_country="DE",
        processes=2,
        progress=lambda s, fraction: seen.append((s.rows_read, fraction)),
    )
    assert summary.rows_read == count
    assert summary.rows_invalid == len(range(0, count, 10))
    assert summary.added == count - summary.rows_invalid
    assert newsletter.contacts.count() == summary.added
    assert Contact.objects.get(phone="+4915120000001").first_name == "P1"
    assert seen[-1][1] == 1.0
    # Errors keep file order, so the report reads like the file.
    numbers = [int(row[0]) for row in report_rows(summary)[1:]]
    assert numbers == sorted(numbers)


def test_ragged_rows_are_reported_and_short_ones_imported(tmp_path, newsletter):
    path = tmp_path / "ragged.csv"
    shutil.copy(FIXTURES / "ragged.csv", path)
    summary = run_import(path, contact_list=newsletter, mapping=MAPPING)
    assert summary.rows_valid == 3
    rows = report_rows(summary)
    assert rows[1][0] == "3"
    assert rows[1][-1] == "has 5 cells, but the file has 3 columns"
    assert not Contact.objects.filter(phone="+4915112345602").exists()
    assert Contact.objects.filter(phone="+4915112345603").exists()


def test_formula_cells_are_kept_as_text_and_never_written_back_as_formulas(tmp_path, newsletter):
    path = tmp_path / "formula.csv"
    shutil.copy(FIXTURES / "formula.csv", path)
    summary = run_import(path, contact_list=newsletter, mapping=MAPPING)
    assert Contact.objects.get(phone="+4915112345601").first_name.startswith("=HYPERLINK")
    rows = report_rows(summary)
    assert rows[1][:3] == ["3", "'=1+2", "'@SUM(A1)"]


def test_over_long_cells_are_row_errors(tmp_path, newsletter):
    path = write(
        tmp_path,
        "long.csv",
        f"phone,first name,note\n+4915112345601,{'A' * 150},x\n+4915112345602,Ben,{'n' * 5000}\n"
        "+4915112345603,Cleo,ok\n",
    )
    summary = run_import(
        path,
        contact_list=newsletter,
        mapping={"phone": "phone", "first name": "first_name", "note": "attr:note"},
    )
    assert summary.rows_valid == 1
    reasons = [row[-1] for row in report_rows(summary)[1:]]
    assert reasons == [
        "a name is longer than 100 characters",
        "a cell is longer than 1000 characters",
    ]


@pytest.mark.parametrize(
    "name, message",
    [
        ("empty.csv", "The file is empty."),
        ("header_only.csv", "header row and no contacts"),
        ("picture.csv", "binary data"),
        ("old_excel.xls", "old Excel (.xls)"),
        ("broken.xlsx", "not a readable Excel workbook"),
    ],
)
def test_it_refuses_a_bad_file_with_a_clear_reason(tmp_path, newsletter, name, message):
    path = tmp_path / name
    shutil.copy(FIXTURES / name, path)
    with pytest.raises(ImportFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run_import(path, contact_list=newsletter, mapping={0: "phone"})
    assert not Contact.objects.exists()
    assert not ListMembership.objects.exists()


def test_it_refuses_a_ten_megabyte_single_line(tmp_path, newsletter):
    path = tmp_path / "one-line.csv"
    path.write_bytes(b"+4915112345601," + b"x" * (10 * 1024 * 1024))
    with pytest.raises(ImportFileError, match="not a CSV file with one contact per line"):
        run_import(path, contact_list=newsletter, mapping={0: "phone"})
    assert not Contact.objects.exists()


def test_a_line_too_long_deep_in_the_file_fails_the_whole_import(tmp_path, newsletter):
    path = tmp_path / "late-line.csv"
    with path.open("w") as handle:
        handle.write("phone\n")
        for i in range(20_000):
            handle.write(f"+49151{30000000 + i}\n")
        handle.write("+4915199999999," + "y" * (imports.MAX_LINE_CHARS + 10) + "\n")
    with pytest.raises(ImportFileError, match="Line 20,002 is longer"):
        run_import(path, contact_list=newsletter, mapping={0: "phone"}, processes=1)
    # The merge never ran: not one of the 20,000 good rows is in.
    assert not Contact.objects.exists()
    assert not ListMembership.objects.exists()


def test_it_needs_exactly_one_phone_column(tmp_path, newsletter):
    path = write(tmp_path, "people.csv", "phone,other\n+4915112345601,+4915112345602\n")
    with pytest.raises(ImportFileError, match="exactly one column"):
        run_import(path, contact_list=newsletter, mapping={"phone": "phone", "other": "phone"})
    with pytest.raises(ImportFileError, match="no column called"):
        run_import(path, contact_list=newsletter, mapping={"mobile": "phone"})


def test_numbers_imported_as_suppressions_are_never_sent_to(tmp_path, manager):
    Suppression.objects.create(phone="+4915112345601", reason="stop")
    path = write(tmp_path, "optouts.csv", "+4915112345601\n+4915112345602\n0151 12345603\nxx\n")
    summary = run_import(
        path, suppress=True, user=manager, mapping={0: "phone"}, default_country="DE"
    )
    assert (summary.rows_valid, summary.added, summary.rows_invalid) == (3, 2, 1)
    assert Suppression.objects.get(phone="+4915112345601").reason == "stop"
    imported = Suppression.objects.get(phone="+4915112345603")
    assert (imported.reason, imported.created_by) == ("imported", manager)


def test_a_first_row_of_numbers_is_data_not_a_header(tmp_path):
    path = write(tmp_path, "bare.csv", "+4915112345601\n+4915112345602\n")
    found = imports.inspect(path)
    assert not found.has_header
    assert found.columns == ["Column 1"]
    assert imports.guess_mapping(["Column 1"]) == {"0": "phone"}


def test_the_mapping_is_guessed_from_usual_header_names():
    assert imports.guess_mapping(["E-Mail", "Mobile Number", "First_Name", "Surname", "City"]) == {
        "1": "phone",
        "2": "first_name",
        "3": "last_name",
    }


def test_a_worker_failure_leaves_a_visible_failed_import(
    tmp_path, manager, monkeypatch, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    contact_list = ContactList.objects.create(name="Crash")
    job = services.import_upload(
        uploaded=SimpleUploadedFile("people.csv", b"phone\n+4915112345601\n"),
        user=manager,
        contact_list=contact_list,
    )
    job.mapping, job.state = {"0": "phone"}, "queued"
    job.save()

    def crash(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(imports, "_merge_memberships", crash)
    job = services.import_run(job.pk)
    assert job.state == "failed"
    assert "disk full" in job.error and "Nothing from this file was imported" in job.error
    assert not Contact.objects.exists()
    # Started again (after the cause is fixed), it completes once.
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.import_restart(contact_import=job, user=manager)
    job.refresh_from_db()
    assert job.state == "completed"
    assert (job.added, job.attempts) == (1, 2)
