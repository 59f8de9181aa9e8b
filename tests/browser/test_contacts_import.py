"""Importing a file in a real browser: upload, map the columns, watch the
progress, download the error report, build a segment from it, export it."""

import pytest
from playwright.sync_api import expect

from contacts.models import ContactImport
from tests.conftest import PASSWORD

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_imports_a_file_and_builds_a_segment_from_it(
    page, shot, manager, tmp_path, settings
):
    settings.CONTACT_IMPORT_DIR = str(tmp_path / "imports")
    rows = ["Telefon;Vorname;Stadt"]
    for i in range(3000):
        city = "Berlin" if i % 2 else "Hamburg"
        rows.append(f"0151 {20000000 + i};Kundin {i};{city}" if i % 100 else f"{i};Kaputt;{city}")
    source = tmp_path / "messe.csv"
    source.write_text("\n".join(rows) + "\n", encoding="utf-8")

    login(page, "mona", PASSWORD)
    page.click("nav >> text=Contacts & lists")
    page.click("text=Import a file")
    page.set_input_files("#id_file", str(source))
    page.fill("#id_new_list_name", "Messe")
    page.click("button:has-text('Upload')")
    expect(page.locator("h2")).to_contain_text("Which column is what?")
    expect(page.locator("#id_col_0")).to_have_value("phone")
    page.select_option("#id_col_1", "first_name")
    page.select_option("#id_col_2", "attr:stadt")
    page.select_option("#id_default_country", "DE")
    shot(page, "import-mapping")
    page.click("text=Start import")

    progress = page.locator("#import-progress")
    expect(progress).to_have_attribute("data-state", "completed", timeout=30_000)
    expect(progress.locator("[data-count=read]")).to_have_text("3,000")
    expect(progress.locator("[data-count=added]")).to_have_text("2,970")
    expect(progress.locator("[data-count=errors]")).to_have_text("30")
    shot(page, "import-done")
    with page.expect_download() as download:
        page.click("text=Download the error report")
    report = download.value.path().read_text(encoding="utf-8-sig").splitlines()
    assert report[0] == "row,Telefon,Vorname,Stadt,reason"
    assert len(report) == 31
    assert ContactImport.objects.get().state == "completed"

    page.click("nav >> text=Contacts & lists")
    page.click("text=Segments")
    page.click("text=New segment")
    # The builder's script is deferred: a field changed before it runs
    # draws no new tests (a person is never that quick).
    page.wait_for_load_state()
    page.fill("#id_name", "Berlin")
    page.select_option("#id_cond-0-field", "attribute")
    page.select_option("#id_cond-0-op", "equals")
    page.select_option("#id_cond-0-key", "stadt")
    page.fill("#id_cond-0-value", "Berlin")
    expect(page.locator("#segment-count [data-count=live]")).to_have_text("1,500")
    page.click("text=Save segment")
    expect(page.locator("[data-count=segment-size]")).to_have_text("1,500")
    shot(page, "segment")
    # Every role exports what it reads, managers too.
    expect(page.locator("text=Export CSV")).to_have_count(1)

    page.click("button:has-text('Make a list')")
    expect(page.locator(".flash-success")).to_contain_text("made from the segment")
    expect(page.locator(".page-subtitle")).to_contain_text("1,500 contact(s)")
