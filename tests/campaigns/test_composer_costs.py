"""The composer's cost surprises, found before launch: a UCS-2 text is a
warning naming its characters and what they cost; parts are counted over
every recipient's rendered text; the GSM-7 option reaches letters with a
plain look-alike; the preview and the save hold texts to one maximum."""

from decimal import Decimal

import pytest
from django.urls import reverse

from campaigns import compose
from campaigns.models import Campaign
from contacts import services as contact_services
from providers import segments
from smsportal.templatetags.ui import format_money, format_phone

pytestmark = pytest.mark.django_db


def composer_data(sandbox, sender, customers, **extra):
    data = {
        "name": "Autumn",
        "text": 'Hi {{ first_name|default:"there" }}, autumn sale!',
        "account": sandbox.pk,
        "sender": sender.pk,
        "lists": [customers.pk],
    }
    data.update(extra)
    return data


@pytest.mark.parametrize(
    ("letter", "alike"),
    [("Ł", "L"), ("ł", "l"), ("ő", "o"), ("ş", "s"), ("ț", "t"), ("Đ", "D"), ("ı", "i")]
    + [("œ", "oe"), ("ẞ", "SS"), ("Ά", "A"), ("\u2011", "-"), ("\u202f", " ")],
)
def test_the_gsm7_option_covers_letters_with_a_plain_look_alike(letter, alike):
    assert segments.to_gsm7(letter) == alike
    assert segments.gsm7_lookalike(letter) == alike
    assert segments.count(segments.to_gsm7(f"Witaj {letter}!")).encoding == segments.GSM7


def test_a_character_without_a_look_alike_stays():
    assert segments.to_gsm7("Sale 🎉") == "Sale 🎉"
    assert segments.gsm7_lookalike("🎉") is None
    assert segments.without_ucs2("Sale 🎉 Łódź") == "Sale  Lodz"


def rendered_parts(campaign, contacts):
    """Each recipient's parts, rendered one by one here."""
    found = {}
    for contact in contacts:
        text = compose.render_for(
            campaign,
            {"first_name": contact.first_name, "last_name": contact.last_name, "attributes": {}},
        )
        n = segments.count(text).segments
        found[n] = found.get(n, 0) + 1
    return sorted(found.items())


def test_parts_are_the_range_over_every_recipients_text(manager_client, sandbox, sender, customers):
    contact_services.list_add_contacts(
        contact_list=customers,
        rows=[{"phone": "+4915112345603", "first_name": "Maximiliane-Josephine"}],
    )
    text = 'Hi {{ first_name|default:"there" }}, ' + "a" * 135
    draft = Campaign(text=text, account=sandbox, sender=sender)
    preview = compose.preview_draft(draft, lists=[customers], exclude_lists=[])
    assert preview.parts == rendered_parts(draft, customers.contacts.all()) == [(1, 4), (2, 1)]
    assert preview.parts_range == "1–2"

    page = manager_client.post(
        reverse("campaigns:preview"), composer_data(sandbox, sender, customers, text=text)
    ).content.decode()
    parts = page.split('data-preview="segments">')[1].split("</dd>")[0]
    assert parts.startswith("1–2")
    assert "1 part</span> 4 recipients" in parts and "2 parts</span> 1 recipient<" in parts
    # The samples agree: Anna's text is one part.
    assert f"{format_phone('+4915112345601')} · 1 part(s)" in page


def test_a_ucs2_text_is_a_warning_naming_its_characters_and_cost(
    manager_client, sandbox, sender, customers
):
    text = 'Hi {{ first_name|default:"there" }}, Łódź opens today 🎉 with 20% off everything!'
    draft = Campaign(text=text, account=sandbox, sender=sender)
    preview = compose.preview_draft(draft, lists=[customers], exclude_lists=[])
    ucs2 = preview.ucs2
    assert ucs2.characters == ["Ł", "ó", "ź", "🎉"]
    assert ucs2.recipients == 4 == preview.audience
    # Every text is one part either way here: the rate card's prices, once.
    assert ucs2.estimated_cost == preview.estimated_cost == Decimal("0.293")
    assert ucs2.gsm7_cost == Decimal("0.293")

    longer = text + " Come early, stay late, and bring your friends along!"
    draft.text = longer
    preview = compose.preview_draft(draft, lists=[customers], exclude_lists=[])
    # As UCS-2 every text is two parts; as GSM-7 one.
    assert preview.ucs2.estimated_cost == 2 * Decimal("0.293")
    assert preview.ucs2.gsm7_cost == Decimal("0.293")

    page = manager_client.post(
        reverse("campaigns:preview"), composer_data(sandbox, sender, customers, text=longer)
    ).content.decode()
    checks = page.split('data-preview="checks">')[1].split("</ul>")[0]
    assert "Every message goes as UCS-2 (70 characters a part instead of 160)" in checks
    assert "because of “Ł”, “ó”, “ź”, “🎉”" in checks
    more = format_money(Decimal("0.293"), "EUR")
    assert f"about {format_money(2 * Decimal('0.293'), 'EUR')} instead of {more}" in checks
    assert f"({more} more)" in checks
    assert "“Ł” → “L”" in checks and "remove “🎉”" in checks
    assert "Ready to launch" not in checks
    assert 'class="warn"' in checks


def test_names_can_make_some_messages_ucs2(manager_client, sandbox, sender, customers):
    contact_services.list_add_contacts(
        contact_list=customers, rows=[{"phone": "+4915112345604", "first_name": "Łucja"}]
    )
    draft = Campaign(text="Hi {{ first_name }}!", account=sandbox, sender=sender)
    preview = compose.preview_draft(draft, lists=[customers], exclude_lists=[])
    assert (preview.ucs2.recipients, preview.ucs2.of) == (1, 5)
    assert preview.ucs2.characters == ["Ł"]
    check = compose.check_draft(draft, lists=[customers], exclude_lists=[], preview=preview)
    assert any(w.startswith("1 of 5 messages go as UCS-2") for w in check.warnings)


def test_a_gsm7_text_has_no_encoding_warning(sandbox, sender, customers):
    draft = Campaign(text="Hi {{ first_name }}!", account=sandbox, sender=sender)
    preview = compose.preview_draft(draft, lists=[customers], exclude_lists=[])
    assert preview.ucs2 is None
    check = compose.check_draft(draft, lists=[customers], exclude_lists=[], preview=preview)
    assert not check.warnings


def test_the_preview_refuses_what_the_save_refuses(manager_client, sandbox, sender, customers):
    too_long = "x" * (segments.MAX_TEXT_CHARS + 1)
    page = manager_client.post(
        reverse("campaigns:preview"), composer_data(sandbox, sender, customers, text=too_long)
    ).content.decode()
    problem = "A message has at most 1,600 characters; this one has 1,601."
    assert problem in page.split('data-preview="checks">')[1]
    assert "Ready to launch" not in page
    assert "disabled" in page.split('value="launch"')[1].split(">")[0]

    response = manager_client.post(
        reverse("campaigns:create"), composer_data(sandbox, sender, customers, text=too_long)
    )
    assert response.status_code == 200
    assert problem in response.content.decode()
    assert not Campaign.objects.exists()

    just_right = "x" * segments.MAX_TEXT_CHARS
    page = manager_client.post(
        reverse("campaigns:preview"), composer_data(sandbox, sender, customers, text=just_right)
    ).content.decode()
    assert "at most 1,600 characters" not in page
