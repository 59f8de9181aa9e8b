"""The segment builder's server side: the tests each field offers, the
input its value needs, attribute names read from the contacts, rows added
and removed, and the live count of conditions still being typed."""

import pytest
from django.urls import reverse

from contacts import segments, services
from contacts.forms import ConditionFormSet, change_rows, condition_rows
from contacts.models import Contact, Segment

pytestmark = pytest.mark.django_db


def post_data(rows, match="all", **extra):
    data = {"match": match, "cond-TOTAL_FORMS": str(len(rows)), "cond-INITIAL_FORMS": "0"}
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"cond-{i}-{key}"] = value
    data.update(extra)
    return data


@pytest.fixture
def people(customers):
    anna = Contact.objects.get(phone="+4915112345601")
    anna.attributes = {"city": "Berlin", "shoe_size": "38"}
    anna.save()
    paul = Contact.objects.get(phone="+4915112340000")
    paul.attributes = {"city": "Hamburg"}
    paul.save()
    segments.attribute_names_changed()
    return customers


def test_each_field_offers_its_own_tests_and_value_input(customers):
    assert [op for op, _ in segments.ops_for("attribute")] == [
        "equals", "not_equals", "contains", "is_set", "is_not_set"
    ]  # fmt: skip
    assert [op for op, _ in segments.ops_for("campaign")] == [
        "received", "not_received", "clicked", "not_clicked"
    ]  # fmt: skip
    assert segments.value_input("country").kind == "countries"
    assert segments.value_input("created").kind == "date"
    assert segments.value_input("attribute", "is_set").kind == "none"
    consent = segments.value_input("consent")
    assert consent.kind == "choice" and [v for v, _ in consent.choices] == [
        "opted_in", "unknown", "opted_out"
    ]  # fmt: skip
    lists = segments.value_input("list")
    assert lists.kind == "choice" and lists.choices == ((str(customers.pk), "Customers"),)


def test_campaigns_offer_the_ones_that_went_out(draft, manager):
    from campaigns import services as campaign_services

    assert segments.value_input("campaign").choices == ()
    campaign_services.campaign_launch(campaign=draft, user=manager)
    assert segments.value_input("campaign").choices == ((str(draft.pk), "Spring sale"),)


def test_attribute_names_come_from_the_contacts_and_follow_changes(people, manager):
    assert segments.attribute_names() == ["city", "shoe_size"]
    anna = Contact.objects.get(phone="+4915112345601")
    services.contact_update(
        contact=anna,
        first_name="Anna",
        last_name="",
        attributes={**anna.attributes, "tier": "gold"},
        user=manager,
    )
    assert segments.attribute_names() == ["city", "shoe_size", "tier"]


def test_the_attribute_names_are_read_once_while_nothing_changes(people, django_assert_num_queries):
    segments.attribute_names()
    # Two cheap look-ups (the newest contact and import) decide it is the same.
    with django_assert_num_queries(2):
        assert segments.attribute_names() == ["city", "shoe_size"]


def test_a_condition_row_shows_the_inputs_its_field_needs(people):
    forms = ConditionFormSet(
        initial=[
            {"field": "attribute", "op": "equals", "key": "city", "value": "Berlin"},
            {"field": "consent", "op": "is", "value": "unknown"},
            {"field": "attribute", "op": "is_set", "key": "city"},
        ],
        prefix="cond",
        attribute_names=segments.attribute_names(),
    )
    attribute, consent, is_set = forms
    html = str(attribute["key"])
    assert '<option value="city" selected>city</option>' in html
    assert '<option value="shoe_size">shoe_size</option>' in html
    assert [v for v, _ in attribute.fields["op"].widget.choices][:2] == ["equals", "not_equals"]
    assert 'value="unknown" selected' in str(consent["value"])
    assert is_set.value_input.kind == "none"


def test_rows_are_added_removed_and_tidied_when_their_field_changes():
    rows = [
        {"field": "country", "op": "in", "key": "", "value": "DE"},
        {"field": "consent", "op": "in", "key": "x", "value": "maybe"},
    ]
    tidied = change_rows(rows, "refresh")
    # A test of the old field and a value its choices lack are replaced.
    assert tidied[1] == {"field": "consent", "op": "is", "key": "", "value": "opted_in"}
    assert len(change_rows(rows, "add")) == 3
    assert change_rows(rows, "remove-0")[0]["field"] == "consent"
    assert change_rows(rows[:1], "remove-0") == [
        {"field": "", "op": "", "key": "", "value": ""}
    ]  # never no row at all
    assert change_rows(rows, "remove-9") == change_rows(rows, "refresh")
    assert condition_rows(post_data(rows))[0]["value"] == "DE"


def test_the_live_count_counts_complete_conditions_and_names_the_others(people):
    evaluation = segments.evaluate(
        "all",
        [
            {"field": "country", "op": "in", "value": "DE"},
            {"field": "attribute", "op": "equals", "key": "city", "value": ""},
            {"field": "", "op": "", "value": ""},
        ],
    )
    assert evaluation.count == 3
    assert evaluation.counted == 1
    # Waiting for its value is not a mistake; a wrong value is.
    assert (evaluation.incomplete, evaluation.problems) == ([2], [])
    wrong = segments.evaluate("all", [{"field": "created", "op": "before", "value": "soon"}])
    assert (wrong.count, wrong.problems) == (None, [(1, "Give the date as YYYY-MM-DD.")])
    assert [c.phone for c in evaluation.sample][0] == "+4915112340000"
    assert segments.evaluate("all", [{"field": "", "op": "", "value": ""}]).count is None


def test_the_count_part_answers_as_the_user_types(manager_client, people):
    url = reverse("contacts:segment_preview")
    rows = [
        {"field": "attribute", "op": "equals", "key": "city", "value": "Berlin"},
        {"field": "country", "op": "in", "key": "", "value": "FR"},
    ]
    page = manager_client.post(url, post_data(rows)).content.decode()
    assert 'id="segment-count"' in page and 'id="conditions"' not in page
    assert '<span data-count="live">0</span>' in page
    page = manager_client.post(url, post_data(rows, match="any")).content.decode()
    assert '<span data-count="live">2</span>' in page


def test_the_builder_part_redraws_the_rows_with_the_count_out_of_band(manager_client, people):
    url = reverse("contacts:segment_preview")
    rows = [{"field": "country", "op": "in", "key": "", "value": "DE"}]
    page = manager_client.post(url, post_data(rows, builder="add")).content.decode()
    assert 'name="cond-TOTAL_FORMS" value="2"' in page
    assert (
        'id="segment-count" class="card builder-count" aria-live="polite" hx-swap-oob="true"'
        in (page)
    )
    rows.append({"field": "attribute", "op": "in", "key": "", "value": ""})
    page = manager_client.post(url, post_data(rows, builder="refresh")).content.decode()
    assert 'name="cond-1-op"' in page and '<option value="equals" selected>' in page
    assert 'name="cond-1-key"' in page and "Choose an attribute…" in page


def test_without_scripts_the_buttons_change_the_rows_and_save_nothing(manager_client, people):
    url = reverse("contacts:segment_create")
    rows = [{"field": "country", "op": "in", "key": "", "value": "DE"}]
    response = manager_client.post(url, post_data(rows, name="Germans", builder="add"))
    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="cond-TOTAL_FORMS" value="2"' in page
    assert 'value="Germans"' in page
    assert not Segment.objects.exists()


def test_a_segment_is_saved_from_the_builder(manager_client, people):
    rows = [
        {"field": "attribute", "op": "equals", "key": "City", "value": "Berlin"},
        {"field": "", "op": "", "key": "", "value": ""},
    ]
    response = manager_client.post(
        reverse("contacts:segment_create"), post_data(rows, name="Berliners", description="")
    )
    assert response.status_code == 302
    segment = Segment.objects.get()
    assert segment.conditions == [
        {"field": "attribute", "op": "equals", "key": "city", "value": "Berlin"}
    ]


def test_an_analyst_cannot_use_the_builder(client, analyst):
    client.force_login(analyst)
    response = client.post(reverse("contacts:segment_preview"), post_data([]))
    assert response.status_code == 403
