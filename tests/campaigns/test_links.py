"""Tracked short links: finding URLs in a text, the codes, rewriting each
recipient's text at dispatch (placeholders first, DLT templates, GSM-7),
the composer counting with the short link's length, test sends, and a code
collision that costs no message its link."""

import re
import string
from collections import Counter, defaultdict
from decimal import Decimal

import pytest
from django.urls import reverse

from campaigns import compose, dispatch, dlt, links, services
from campaigns.models import (
    Approval,
    Campaign,
    DLTTemplate,
    Message,
    ShortLink,
    Variant,
)
from campaigns.selectors import campaign_counts
from contacts import services as contact_services
from providers import segments
from providers.status import Status

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example/autumn?utm_source=sms"


def short_codes(text: str) -> list[str]:
    base = links.short_url("")
    return [url[len(base) :] for url in links.find_urls(text) if url.startswith(base)]


def launch(campaign, user, django_capture_on_commit_callbacks):
    """Launch, materialise and dispatch (the tasks run in this process)."""
    with django_capture_on_commit_callbacks(execute=True):
        services.campaign_launch(campaign=campaign, user=user)
    campaign.refresh_from_db()
    return campaign


# -- finding URLs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "urls"),
    [
        ("Sale at https://shop.example/sale.", ["https://shop.example/sale"]),
        ("Sale at http://shop.example/a?b=1&c=2, today!", ["http://shop.example/a?b=1&c=2"]),
        ("Go to www.shop.example!", ["www.shop.example"]),
        ("WWW.Shop.Example/X; HTTPS://A.example/Y:", ["WWW.Shop.Example/X", "HTTPS://A.example/Y"]),
        ("(see https://shop.example/a)", ["https://shop.example/a"]),
        (
            "Wiki: https://en.wikipedia.org/wiki/Foo_(bar)).",
            ["https://en.wikipedia.org/wiki/Foo_(bar)"],
        ),
        (
            "«https://shop.example/ä» and “https://b.example/”",
            ["https://shop.example/ä", "https://b.example/"],
        ),
        (
            "'https://shop.example/x'? \"www.b.example\"",
            ["https://shop.example/x", "www.b.example"],
        ),
        ("Visit:https://shop.example/x…", ["https://shop.example/x"]),
        (
            "Two: https://a.example https://b.example/1",
            ["https://a.example", "https://b.example/1"],
        ),
        ("http://localhost:8000/x", ["http://localhost:8000/x"]),
        # Not URLs: an address, a word with a dot, a scheme without a host.
        ("Write to sales@www.shop.example or www.shop", []),
        ("https:// nothing, http://_bad_/ and https://x.example:port/", []),
        ("javascript:alert(1) ftp://files.example/x mailto:a@b.example", []),
        ("No link here.", []),
    ],
)
def test_urls_are_found_as_written_without_the_punctuation_around_them(text, urls):
    assert links.find_urls(text) == urls


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("https://shop.example/a?b=1#top", "https://shop.example/a?b=1#top"),
        ("www.shop.example/x", "https://www.shop.example/x"),
        ("HTTP://Shop.Example/Path", "http://shop.example/Path"),
        ("https://bücher.example/straße?q=ö", "https://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%B6"),
        ("https://shop.example:8443/a|b^c", "https://shop.example:8443/a%7Cb%5Ec"),
        ("https://shop.example/a b", None),
        ("https://user:secret@shop.example/", None),
        ("javascript:alert(1)", None),
        ("//shop.example/x", None),
        ("https:///x", None),
        ("https://shop.example/\r\nSet-Cookie: a=b", None),
        ("https://shop.example/" + "x" * links.MAX_URL_LENGTH, None),
    ],
)
def test_only_http_and_https_addresses_of_a_host_are_stored_to_redirect_to(url, target):
    assert links.target(url) == target
    if target:
        assert links.is_safe_location(target)


# -- codes ----------------------------------------------------------------------------------


def test_codes_are_eight_random_characters_of_base62_and_distinct():
    codes = links.new_codes(20_000)
    assert len(set(codes)) == 20_000
    alphabet = set(string.digits + string.ascii_letters)
    assert all(len(c) == links.CODE_LENGTH == 8 and set(c) <= alphabet for c in codes)
    # Every character turns up in every place (a skewed or counting
    # generator would not spread like this).
    for place in range(8):
        seen = Counter(c[place] for c in codes)
        assert set(seen) == alphabet
        assert max(seen.values()) < 3 * min(seen.values())
    assert links.new_codes(3, taken=codes) != codes[:3]


# -- dispatch: each recipient's own links ---------------------------------------------------


@pytest.fixture
def shoppers(customers):
    """The customers with an id of their own at the shop (an attribute)."""
    for n, contact in enumerate(customers.contacts.order_by("phone"), start=1):
        contact.attributes = {"shop_id": f"C{n:03d}"}
        contact.save()
    return customers


@pytest.fixture
def linked(draft, shoppers):
    draft.text = (
        'Hi {{ first_name|default:"there" }}, your offer: https://shop.example/?u={{ shop_id }} !'
    )
    draft.save()
    return draft


def test_each_recipient_gets_short_links_of_their_own_to_their_own_url(
    linked, manager, sandbox, django_capture_on_commit_callbacks
):
    assert links.uses_short_links(linked)
    launch(linked, manager, django_capture_on_commit_callbacks)

    messages = list(Message.objects.filter(campaign=linked, is_test=False).order_by("phone"))
    assert len(messages) == 4
    by_message = {link.message_id: link for link in ShortLink.objects.filter(campaign=linked)}
    assert len(by_message) == 4
    rates = {"DE": Decimal("0.075"), "FR": Decimal("0.068")}
    for m in messages:
        link = by_message[m.id]
        shop_id = m.contact.attributes["shop_id"]
        # Placeholders first: the recipient's own URL is what the link sends to.
        assert link.url == f"https://shop.example/?u={shop_id}"
        assert link.position == 0 and links.is_code(link.code)
        assert links.short_url(link.code) in m.text
        assert "shop.example" not in m.text
        assert short_codes(m.text) == [link.code]
        # Counted and priced as it goes, with the short link.
        info = segments.count(m.text)
        assert (m.encoding, m.segments) == (info.encoding, info.segments)
        assert m.estimated_cost == info.segments * rates[m.country]
    assert len({link.code for link in by_message.values()}) == 4
    counts = campaign_counts([linked.pk])[linked.pk]
    assert counts.estimated_cost == sum(m.estimated_cost for m in messages)
    # What the composer said at launch is what the messages cost.
    assert linked.launch_estimate == sum(m.estimated_cost for m in messages)


def test_a_text_is_rendered_once_however_often_its_message_is_claimed(
    linked, manager, django_capture_on_commit_callbacks, monkeypatch
):
    # The provider refuses the first request: the messages go back to
    # pending, rendered, and keep their links when sent again.
    from providers.backends.sandbox import SandboxBackend

    real = SandboxBackend.send_batch
    sent = defaultdict(list)

    def flaky(self, messages, options):
        from providers.base import ProviderError

        first = not sent
        for m in messages:
            sent[m.to].append(m.text)
        if first:
            raise ProviderError("busy", code="busy", retry_after=0)
        return real(self, messages, options)

    monkeypatch.setattr(SandboxBackend, "send_batch", flaky)
    launch(linked, manager, django_capture_on_commit_callbacks)
    Message.objects.filter(campaign=linked).update(not_before=None)
    dispatch.dispatch(linked.pk, time_budget=5)

    assert not Message.objects.filter(campaign=linked, status=Status.PENDING).exists()
    assert ShortLink.objects.filter(campaign=linked).count() == 4
    assert len(sent) == 4 and max(len(texts) for texts in sent.values()) == 2
    # Sent again with the text (and link) it had the first time.
    assert all(len(set(texts)) == 1 for texts in sent.values())


def test_every_url_of_a_text_gets_its_own_link_in_order(
    draft, manager, django_capture_on_commit_callbacks
):
    draft.text = "New in: https://shop.example/new and www.shop.example/sale. Opt out: https://shop.example/stop"
    draft.save()
    launch(draft, manager, django_capture_on_commit_callbacks)
    m = Message.objects.filter(campaign=draft, phone="+4915112345601").get()
    rows = list(ShortLink.objects.filter(message=m).order_by("position"))
    assert [(r.position, r.url) for r in rows] == [
        (0, "https://shop.example/new"),
        (1, "https://www.shop.example/sale"),
        (2, "https://shop.example/stop"),
    ]
    assert short_codes(m.text) == [r.code for r in rows]
    assert m.text.startswith("New in: " + links.short_url(rows[0].code) + " and ")
    assert m.text.endswith(". Opt out: " + links.short_url(rows[2].code))


def test_links_go_as_written_when_tracking_is_off_or_the_provider_tracks_clicks(
    draft, manager, django_capture_on_commit_callbacks
):
    draft.text = f"Autumn sale: {SHOP}"
    draft.track_links = False
    draft.save()
    assert not links.uses_short_links(draft)
    draft.track_links, draft.click_tracking = True, True
    assert not links.uses_short_links(draft)
    draft.save()
    launch(draft, manager, django_capture_on_commit_callbacks)
    assert not ShortLink.objects.exists()
    assert set(Message.objects.filter(campaign=draft).values_list("text", flat=True)) == {
        f"Autumn sale: {SHOP}"
    }


def test_a_campaign_without_urls_is_priced_at_launch_as_before(
    draft, manager, django_capture_on_commit_callbacks
):
    draft.text = "Autumn sale, 20% off."
    draft.save()
    assert not links.uses_short_links(draft)
    with django_capture_on_commit_callbacks(execute=False):
        services.campaign_launch(campaign=draft, user=manager)
    services.materialise(draft.pk)
    texts = set(Message.objects.filter(campaign=draft).values_list("text", "segments"))
    assert texts == {("Autumn sale, 20% off.", 1)}
    assert not ShortLink.objects.exists()


def test_a_campaign_with_links_is_priced_when_each_text_is_rendered(
    draft, manager, django_capture_on_commit_callbacks
):
    draft.text = f"Autumn sale: {SHOP}"
    draft.save()
    with django_capture_on_commit_callbacks(execute=False):
        services.campaign_launch(campaign=draft, user=manager)
    services.materialise(draft.pk)
    pending = Message.objects.filter(campaign=draft, status=Status.PENDING)
    assert set(pending.values_list("text", "estimated_cost")) == {("", Decimal(0))}
    dispatch.dispatch(draft.pk, time_budget=5)
    for m in Message.objects.filter(campaign=draft):
        assert m.text == f"Autumn sale: {links.short_url(short_codes(m.text)[0])}"
        assert m.segments == 1


def test_a_variant_s_messages_are_rendered_from_its_text(
    draft, manager, django_capture_on_commit_callbacks
):
    draft.text = "Autumn sale, 20% off."
    draft.save()
    with django_capture_on_commit_callbacks(execute=False):
        services.campaign_launch(campaign=draft, user=manager)
    services.materialise(draft.pk)
    b = Variant.objects.create(
        campaign=draft, label="B", text='{{ first_name|default:"Hi" }}: https://shop.example/b'
    )
    anna = Message.objects.get(campaign=draft, phone="+4915112345601")
    Message.objects.filter(pk=anna.pk).update(variant=b, text="")
    dispatch.dispatch(draft.pk, time_budget=5)

    anna.refresh_from_db()
    [link] = ShortLink.objects.filter(message=anna)
    assert anna.text == f"Anna: {links.short_url(link.code)}"
    assert link.url == "https://shop.example/b"
    others = Message.objects.filter(campaign=draft).exclude(pk=anna.pk)
    assert set(others.values_list("text", flat=True)) == {"Autumn sale, 20% off."}
    # The variant's URL alone makes the campaign one with links.
    assert links.uses_short_links(draft)


# -- GSM-7 ----------------------------------------------------------------------------------


def test_a_short_link_is_gsm7_and_a_url_outside_it_no_longer_makes_the_text_ucs2(
    draft, manager, django_capture_on_commit_callbacks
):
    url = "https://sklep.example/jesień/łódź"
    draft.text = f"Jesienna wyprzedaż {url}".replace("ż", "z")
    draft.save()
    assert segments.count(draft.text).encoding == segments.UCS2
    launch(draft, manager, django_capture_on_commit_callbacks)
    m = Message.objects.get(campaign=draft, phone="+4915112345601")
    assert segments.is_gsm7(links.short_url(links.SAMPLE_CODE))
    assert (m.encoding, m.segments) == (segments.GSM7, 1)
    [link] = ShortLink.objects.filter(message=m)
    # Stored as a Location header takes it.
    assert link.url == "https://sklep.example/jesie%C5%84/%C5%82%C3%B3d%C5%BA"


# -- DLT templates --------------------------------------------------------------------------


@pytest.fixture
def short_host(settings):
    settings.SHORT_LINK_BASE_URL = "https://s.example.in/"
    return settings.SHORT_LINK_BASE_URL


@pytest.fixture
def dlt_campaign(draft, sender):
    contact_services.list_add_contacts(
        contact_list=draft.lists.get(),
        rows=[{"phone": "+919812345678", "first_name": "Ravi"}],
    )
    draft.dlt_template = DLTTemplate.objects.create(
        name="offer",
        template_id="1107160000000000002",
        principal_entity_id="1101000000000001",
        header=sender,
        category="promotional",
        status=Approval.APPROVED,
        content="Hi {#var#}, your offer: {#var#} - Shop T&C https://shop.example/terms",
    )
    draft.text = (
        'Hi {{ first_name|default:"there" }}, your offer: https://shop.example/o/2611 '
        "- Shop T&C https://shop.example/terms"
    )
    draft.save()
    return draft


def test_in_a_dlt_message_only_urls_of_the_variable_parts_become_short_links(
    dlt_campaign, short_host, manager, django_capture_on_commit_callbacks
):
    pattern = dlt.Template(dlt_campaign.dlt_template.content)
    launch(dlt_campaign, manager, django_capture_on_commit_callbacks)

    ravi = Message.objects.get(campaign=dlt_campaign, country="IN")
    [link] = ShortLink.objects.filter(message=ravi)
    assert (link.position, link.url) == (0, "https://shop.example/o/2611")
    assert ravi.text == (
        f"Hi Ravi, your offer: {short_host}{link.code} - Shop T&C https://shop.example/terms"
    )
    # Still the registered template, the short link within a variable part.
    assert pattern.matches(ravi.text)
    # Elsewhere the template does not apply: both links are tracked.
    anna = Message.objects.get(campaign=dlt_campaign, phone="+4915112345601")
    assert [r.url for r in ShortLink.objects.filter(message=anna).order_by("position")] == [
        "https://shop.example/o/2611",
        "https://shop.example/terms",
    ]


def test_the_composer_says_a_dlt_template_s_own_links_are_not_tracked(dlt_campaign, short_host):
    result = compose.check(dlt_campaign)
    assert result.ok, result.errors
    [warning] = [w for w in result.warnings if "own link" in w]
    assert "https://shop.example/terms" in warning and "not tracked" in warning

    preview = compose.preview(dlt_campaign, samples=5)
    ravi = next(text for phone, text, _ in preview.samples if phone.startswith("+91"))
    assert ravi.endswith(
        f"offer: {short_host}{links.SAMPLE_CODE} - Shop T&C https://shop.example/terms"
    )
    # Counted as each goes: messages to India keep the long fixed link.
    assert preview.parts == [(1, 5)]


def test_a_short_link_longer_than_a_dlt_variable_part_is_an_error(dlt_campaign, settings):
    settings.SHORT_LINK_BASE_URL = "https://links.shop.example.com/l/"
    assert links.short_length() > dlt.VAR_MAX
    result = compose.check(dlt_campaign)
    [error] = [e for e in result.errors if "variable part" in e]
    assert "SHORT_LINK_BASE_URL" in error and "Track links" in error
    # At dispatch such a link stays as written, so the message still matches.
    pattern = dlt.Template(dlt_campaign.dlt_template.content)
    text = "Hi Ravi, your offer: https://shop.example/o/2611 - Shop T&C https://shop.example/terms"
    assert links.replaceable(text, pattern) == []
    # Switched off, nothing is in the way.
    dlt_campaign.track_links = False
    assert compose.check(dlt_campaign).ok


def test_a_url_too_short_for_a_short_link_in_a_variable_part_stays(short_host):
    pattern = dlt.Template("Code {#var#} at {#var#} ok")
    # 29 characters with the URL, 47 with its short link: over the 30.
    text = "Code 1234 at www.shop.in, call 0800 123456 ok"
    assert pattern.matches(text)
    assert links.replaceable(text, pattern) == []
    text = "Code 1234 at https://shop.example/o/26 ok"
    [(start, end, position, target)] = links.replaceable(text, pattern)
    assert (text[start:end], position, target) == (
        "https://shop.example/o/26",
        0,
        "https://shop.example/o/26",
    )


# -- the composer ---------------------------------------------------------------------------


def composer_data(sandbox, sender, customers, **extra):
    data = {
        "name": "Autumn",
        "text": 'Hi {{ first_name|default:"there" }}, autumn sale!',
        "account": sandbox.pk,
        "sender": sender.pk,
        "lists": [customers.pk],
        "track_links": "on",
    }
    data.update(extra)
    return data


def test_the_composer_counts_parts_and_cost_with_the_short_link(
    manager_client, sandbox, sender, customers
):
    long_url = "https://shop.example/autumn/" + "x" * 120
    text = f"Autumn sale: {long_url}"
    assert segments.count(text).segments == 2
    draft = Campaign(text=text, account=sandbox, sender=sender)
    preview = compose.preview_draft(draft, lists=[customers], exclude_lists=[])
    short = links.short_url(links.SAMPLE_CODE)
    assert preview.parts == [(1, 4)]
    assert (preview.segments, preview.encoding) == (1, segments.GSM7)
    assert preview.characters_remaining == 160 - len(f"Autumn sale: {short}")
    assert preview.estimated_cost == 3 * Decimal("0.075") + Decimal("0.068")
    assert [t for _, t, _ in preview.samples] == [f"Autumn sale: {short}"] * 3
    assert preview.tracked_links == 1 and preview.short_link_length == len(short)

    page = manager_client.post(
        reverse("campaigns:preview"), composer_data(sandbox, sender, customers, text=text)
    ).content.decode()
    assert f"Autumn sale: {short}" in page
    assert 'data-preview="links">1 tracked, as a short link of each recipient' in page
    remaining = page.split('data-preview="remaining">')[1].split(" ")[0]
    assert remaining == str(preview.characters_remaining)
    assert long_url not in page.split("<h3>Samples</h3>")[1]

    # Without tracking, the long URL is counted as written.
    off = manager_client.post(
        reverse("campaigns:preview"),
        composer_data(sandbox, sender, customers, text=text, track_links=""),
    ).content.decode()
    assert 'data-preview="links"' not in off
    assert long_url in off.split("<h3>Samples</h3>")[1]


def test_personalised_samples_show_each_recipient_s_url_shortened(sandbox, sender, shoppers):
    draft = Campaign(
        text='{{ first_name|default:"Hi" }}: https://shop.example/?u={{ shop_id }}',
        account=sandbox,
        sender=sender,
    )
    preview = compose.preview_draft(draft, lists=[shoppers], exclude_lists=[], samples=2)
    short = links.short_url(links.SAMPLE_CODE)
    assert [t for _, t, _ in preview.samples] == [f"Anna: {short}", f"Hi: {short}"]
    assert preview.parts == [(1, 4)]
    assert preview.links_note.startswith("1 tracked, as a short link")


def test_the_preview_says_how_many_links_are_tracked(sandbox, sender, customers):
    draft = Campaign(
        text="New: https://shop.example/new and www.shop.example/sale",
        account=sandbox,
        sender=sender,
    )
    preview = compose.preview_draft(draft, lists=[customers], exclude_lists=[])
    assert preview.tracked_links == 2
    assert preview.links_note.startswith(
        f"2 tracked, as short links of each recipient's own ({links.short_length()} characters "
        "each, as in the samples)"
    )
    draft.track_links = False
    preview = compose.preview_draft(draft, lists=[customers], exclude_lists=[])
    assert (preview.tracked_links, preview.links_note) == (0, "")


def test_track_links_and_the_providers_click_tracking_exclude_each_other(
    manager_client, sandbox, sender, customers
):
    data = composer_data(sandbox, sender, customers, text=f"Sale {SHOP}", click_tracking="on")
    page = manager_client.post(reverse("campaigns:create"), data).content.decode()
    assert "Choose one way to track clicks" in page
    assert not Campaign.objects.exists()

    data["track_links"] = ""
    manager_client.post(reverse("campaigns:create"), data)
    campaign = Campaign.objects.get()
    assert (campaign.click_tracking, campaign.track_links) == (True, False)


def test_the_composer_offers_track_links_ticked_for_a_new_campaign(manager_client, sandbox):
    page = manager_client.get(reverse("campaigns:create")).content.decode()
    field = page.split('name="track_links"')[1].split(">")[0]
    assert "checked" in field


def test_a_copy_keeps_the_link_tracking_choice(draft, manager):
    draft.track_links = False
    draft.save()
    copy = services.campaign_clone(campaign=draft, user=manager)
    assert copy.track_links is False


# -- test sends -----------------------------------------------------------------------------


def test_a_test_send_gets_real_short_links(draft, manager, client):
    draft.text = f'Hi {{{{ first_name|default:"there" }}}}, {SHOP}'
    draft.save()
    message = services.test_send(campaign=draft, phone="+4915112345601", user=manager)
    [link] = ShortLink.objects.filter(message=message)
    assert message.is_test
    assert message.text == f"Hi Anna, {links.short_url(link.code)}"
    assert (link.url, link.campaign_id) == (SHOP, draft.pk)
    assert message.segments == 1 and message.estimated_cost == Decimal("0.075")
    response = client.get(f"/l/{link.code}")
    assert (response.status_code, response["Location"]) == (302, SHOP)


def test_a_test_send_to_india_keeps_the_template_s_own_link(dlt_campaign, short_host, manager):
    message = services.test_send(campaign=dlt_campaign, phone="+919812345678", user=manager)
    [link] = ShortLink.objects.filter(message=message)
    assert message.text.endswith(f"{link.code} - Shop T&C https://shop.example/terms")


# -- collisions -----------------------------------------------------------------------------


def test_a_code_another_link_has_is_drawn_again_and_no_message_loses_its_link(
    linked, monkeypatch, django_capture_on_commit_callbacks, manager
):
    with django_capture_on_commit_callbacks(execute=False):
        services.campaign_launch(campaign=linked, user=manager)
    services.materialise(linked.pk)
    earlier = Message.objects.filter(campaign=linked).order_by("id").first()
    taken = ShortLink.objects.create(
        code="Taken123", message=earlier, campaign=linked, url="https://old.example/"
    )
    real = links.new_codes
    draws = []

    def colliding(n, *, taken=()):
        draws.append(n)
        if len(draws) == 1:
            # The second message draws a code another link already has.
            return ["First001", "Taken123", "Third003", "Forth004"]
        return real(n, taken=taken)

    monkeypatch.setattr(links, "new_codes", colliding)
    dispatch.dispatch(linked.pk, time_budget=5)

    assert draws[0] == 4 and draws[1] == 1
    rows = list(ShortLink.objects.filter(campaign=linked).exclude(pk=taken.pk))
    assert len(rows) == 4
    assert {r.code for r in rows} >= {"First001", "Third003", "Forth004"}
    assert "Taken123" not in {r.code for r in rows}
    taken.refresh_from_db()
    assert taken.url == "https://old.example/"
    for m in Message.objects.filter(campaign=linked):
        [code] = short_codes(m.text)
        assert ShortLink.objects.get(code=code).message_id == m.id


@pytest.mark.django_db
def test_the_composer_counts_the_short_link_before_an_account_is_chosen(manager_client):
    text = "Spring sale: https://shop.example.com/spring/collection?utm=sms Reply STOP"
    short = links.sample_text(text)
    assert len(short) != len(text)
    page = manager_client.post(
        reverse("campaigns:preview"), {"name": "Spring", "text": text, "track_links": "on"}
    ).content.decode()
    left = re.search(r'data-preview="remaining">\s*(\d+)', page).group(1)
    assert int(left) == segments.count(short).characters_remaining
    # Unticked, the link goes as written, and is counted so.
    page = manager_client.post(
        reverse("campaigns:preview"), {"name": "Spring", "text": text}
    ).content.decode()
    left = re.search(r'data-preview="remaining">\s*(\d+)', page).group(1)
    assert int(left) == segments.count(text).characters_remaining
