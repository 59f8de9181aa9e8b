"""A/B tests: the test share split evenly and exactly once at launch, every
skip reason kept, the winner by each metric (ties to the earlier label, no
guess without data), a person's pick, the rest written once however many
pick at the same moment, completion waiting for the winner, cancel, pause;
and the composer, the campaign page, the admin and the REST export."""

import datetime as dt
import hashlib
import threading
from decimal import Decimal

import pytest
from django.db import close_old_connections, connection
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from campaigns import abtest, compose, engagement, services
from campaigns.models import Campaign, Click, Conversion, Message, Variant
from campaigns.selectors import campaign_counts, campaign_waiting
from campaigns.tasks import decide_ab_tests
from contacts.models import Consent, Contact, ContactList, ListMembership, Suppression
from providers.status import Status
from smsportal.models import AuditLogEntry
from smsportal.templatetags.ui import format_money

pytestmark = pytest.mark.django_db(transaction=True)

State = Campaign.State
LINK = "https://shop.example.com/sale"


def people(n: int, name: str = "People") -> ContactList:
    """``n`` German contacts in a list (none the sandbox fails)."""
    contact_list = ContactList.objects.create(name=name)
    phones = [f"+4915120{i:06d}" for i in range(1, n + 1)]
    Contact.objects.bulk_create(
        Contact(phone=p, country="DE", time_zone="Europe/Berlin") for p in phones
    )
    ListMembership.objects.bulk_create(
        ListMembership(contact_list=contact_list, contact=c)
        for c in Contact.objects.filter(phone__in=phones)
    )
    return contact_list


def ab_campaign(sandbox, sender, contact_list, *, texts=None, share=20, **extra) -> Campaign:
    texts = texts or [f"Spring sale: {LINK}", f"Last chance, 20% off: {LINK}"]
    campaign = Campaign.objects.create(
        name="Spring A/B",
        text=texts[0],
        sender=sender,
        account=sandbox,
        ab_test_share=share,
        **extra,
    )
    campaign.lists.add(contact_list)
    abtest.save_variants(campaign, texts)
    return campaign


def launch(campaign, user) -> Campaign:
    services.campaign_launch(campaign=campaign, user=user)
    return Campaign.objects.get(pk=campaign.pk)


def expected_split(campaign, share, n_variants) -> dict[str, str]:
    """phone -> variant label, as the hash ranking should give it."""
    contacts = list(compose.audience(campaign).values_list("id", "phone"))

    def key(row):
        return (hashlib.md5(f"{campaign.pk}:{row[1]}".encode()).hexdigest(), row[0])

    ranked = sorted(contacts, key=key)
    size = abtest.test_size(len(ranked), share, n_variants)
    return {phone: abtest.LABELS[i % n_variants] for i, (_, phone) in enumerate(ranked[:size])}


def by_phone(campaign) -> dict[str, str]:
    return dict(
        Message.objects.filter(campaign=campaign, is_test=False).values_list(
            "phone", "variant__label"
        )
    )


@pytest.fixture
def hundred(db):
    return people(100)


# -- launch: the test part --------------------------------------------------------------------


def test_launch_sends_the_test_share_split_evenly_and_the_rest_waits(
    sandbox, sender, hundred, manager
):
    campaign = ab_campaign(sandbox, sender, hundred, share=20)
    before = timezone.now()
    campaign = launch(campaign, manager)

    assert by_phone(campaign) == expected_split(campaign, 20, 2)
    labels = Message.objects.filter(campaign=campaign).values("variant__label")
    assert {r["variant__label"]: r["n"] for r in labels.annotate(n=Count("id"))} == {
        "A": 10,
        "B": 10,
    }
    # Each got its own variant's text, rendered when sent.
    for message in Message.objects.filter(campaign=campaign).select_related("variant"):
        assert message.status == Status.DELIVERED
        assert message.text.startswith(message.variant.text.split(":")[0])
    assert campaign.audience_count == 20
    assert campaign.ab_test_ends_at >= before + dt.timedelta(minutes=campaign.ab_wait_minutes)
    # Everything of the test part is sent, but the rest waits for the winner.
    assert campaign.state == State.RUNNING
    assert abtest.rest_count(campaign) == 80
    waits = campaign_waiting(campaign)
    assert [w.kind for w in waits] == ["abtest"]
    assert waits[0].count == 80 and waits[0].until == campaign.ab_test_ends_at
    assert "80 recipients wait for the winner" in waits[0].detail
    # Launching again (a retried task) writes nothing.
    assert services.materialise(campaign.pk) == 0
    assert Message.objects.filter(campaign=campaign).count() == 20


def test_the_split_rounds_up_and_gives_the_odd_one_to_the_earlier_label(sandbox, sender, manager):
    seven = people(7)
    texts = ["Offer one", "Offer two", "Offer three"]
    campaign = launch(ab_campaign(sandbox, sender, seven, texts=texts, share=50), manager)
    found = by_phone(campaign)
    # 50% of 7 is 3.5: 4 recipients, A getting the fourth.
    assert found == expected_split(campaign, 50, 3)
    assert sorted(found.values()) == ["A", "A", "B", "C"]
    assert abtest.test_size(1000, 1, 4) == 10
    assert abtest.test_size(3, 1, 2) == 2  # at least one per variant
    assert abtest.split(10, 4) == [3, 3, 2, 2]


def test_every_skip_reason_holds_in_both_parts(sandbox, sender, manager, settings):
    """Suppressed, no consent, over the frequency cap, outside DLT: in the
    test part and in the rest, as for any campaign, in that order."""
    settings.FREQUENCY_CAP_ENABLED = True
    settings.FREQUENCY_CAP_MESSAGES = 1
    settings.FREQUENCY_CAP_DAYS = 7
    crowd = people(40)
    Contact.objects.update(consent=Consent.OPTED_IN)
    Contact.objects.filter(phone__endswith="3").update(consent=Consent.OPTED_OUT)
    Contact.objects.filter(phone__endswith="5").update(country="IN")
    for phone in ("+4915120000002", "+4915120000012"):
        Suppression.objects.create(phone=phone)
    earlier = Campaign.objects.create(
        name="Earlier", text="Hi", sender=sender, account=sandbox, state=State.COMPLETED
    )
    Message.objects.create(
        campaign=earlier,
        phone="+4915120000021",
        account=sandbox,
        status=Status.DELIVERED,
        submitted_at=timezone.now(),
    )

    def expected(phone):
        if phone.endswith(("02", "12")):
            return "suppressed"
        if phone.endswith("3"):
            return "no_consent"
        if phone.endswith("21"):
            return "frequency_cap"
        if phone.endswith("5"):
            return "outside_dlt"
        return ""

    campaign = ab_campaign(
        sandbox, sender, crowd, share=50, consent_required=True, ab_auto_winner=False
    )
    campaign = launch(campaign, manager)
    rows = Message.objects.filter(campaign=campaign, is_test=False)
    test_part = dict(rows.values_list("phone", "skip_reason"))
    assert len(test_part) == 20
    assert test_part == {phone: expected(phone) for phone in test_part}

    abtest.pick_winner(campaign=campaign, variant=campaign.variants.get(label="B"), user=manager)
    everyone = dict(rows.values_list("phone", "skip_reason"))
    assert len(everyone) == 40
    assert everyone == {phone: expected(phone) for phone in everyone}
    assert set(everyone.values()) == {
        "",
        "suppressed",
        "no_consent",
        "outside_dlt",
        "frequency_cap",
    }
    campaign.refresh_from_db()
    assert campaign.audience_count == 40
    counts = campaign_counts([campaign.pk])[campaign.pk]
    assert counts.total == 40
    assert counts.get(Status.SKIPPED) == sum(1 for r in everyone.values() if r)
    assert counts.get(Status.DELIVERED) == sum(1 for r in everyone.values() if not r)


# -- the winner ---------------------------------------------------------------------------


def ended(campaign):
    Campaign.objects.filter(pk=campaign.pk).update(
        ab_test_ends_at=timezone.now() - dt.timedelta(seconds=1)
    )
    return Campaign.objects.get(pk=campaign.pk)


def click(message, *, bot=False):
    Click.objects.create(
        campaign_id=message.campaign_id,
        message=message,
        variant_id=message.variant_id,
        agent="preview" if bot else "mobile",
        is_bot=bot,
        at=timezone.now(),
    )


def test_the_automatic_pick_by_click_rate_sends_the_winner_to_the_rest(
    sandbox, sender, hundred, manager
):
    campaign = launch(ab_campaign(sandbox, sender, hundred), manager)
    a, b = campaign.variants.order_by("label")
    b_messages = list(Message.objects.filter(campaign=campaign, variant=b))
    for m in b_messages[:3]:
        click(m)
    a_message = Message.objects.filter(campaign=campaign, variant=a).first()
    click(a_message)
    for _ in range(5):
        click(a_message, bot=True)  # link previews never count

    decide_ab_tests.delay()  # not yet: the test runs
    assert Campaign.objects.get(pk=campaign.pk).ab_winner_id is None

    ended(campaign)
    decide_ab_tests.delay()
    campaign.refresh_from_db()
    assert campaign.ab_winner == b
    assert campaign.ab_decided_by is None and campaign.ab_decided_at is not None
    rest = Message.objects.filter(campaign=campaign, variant=b).exclude(
        pk__in=[m.pk for m in b_messages]
    )
    assert rest.count() == 80
    assert set(rest.values_list("status", flat=True)) == {Status.DELIVERED}
    assert all(t.startswith("Last chance") for t in rest.values_list("text", flat=True))
    assert Message.objects.filter(campaign=campaign).count() == 100
    assert campaign.audience_count == 100
    assert campaign.state == State.COMPLETED
    entry = AuditLogEntry.objects.get(action="campaign.ab_winner", object_id=str(campaign.pk))
    assert entry.actor is None
    assert entry.details["variant"] == "B" and entry.details["rest"] == 80
    assert entry.details["scores"] == {"A": 0.1, "B": 0.3}


def test_the_automatic_pick_by_delivery_rate(sandbox, sender, hundred, manager):
    campaign = launch(
        ab_campaign(sandbox, sender, hundred, ab_metric=Campaign.ABMetric.DELIVERY), manager
    )
    a, b = campaign.variants.order_by("label")
    Message.objects.filter(pk__in=Message.objects.filter(campaign=campaign, variant=a)[:2]).update(
        status=Status.UNDELIVERED
    )
    winner, reason, scores = abtest.best_variant(campaign)
    assert (winner, reason) == (b, "")
    assert scores == {a.pk: 0.8, b.pk: 1.0}
    assert abtest.decide_due(now=timezone.now() + dt.timedelta(days=1)) == [campaign.pk]
    campaign.refresh_from_db()
    assert campaign.ab_winner == b


def test_the_automatic_pick_by_conversions_per_message_sent(sandbox, sender, hundred, manager):
    campaign = launch(
        ab_campaign(sandbox, sender, hundred, ab_metric=Campaign.ABMetric.CONVERSIONS), manager
    )
    a, b = campaign.variants.order_by("label")
    for variant, n in ((a, 2), (b, 1)):
        for message in Message.objects.filter(campaign=campaign, variant=variant)[:n]:
            Conversion.objects.create(
                campaign=campaign, message=message, variant=variant, value=Decimal("10")
            )
    winner, _, scores = abtest.best_variant(campaign)
    assert winner == a
    assert scores == {a.pk: 0.2, b.pk: 0.1}


def test_a_tie_goes_to_the_earlier_label(sandbox, sender, hundred, manager):
    campaign = launch(ab_campaign(sandbox, sender, hundred), manager)
    for variant in campaign.variants.all():
        click(Message.objects.filter(campaign=campaign, variant=variant).first())
    winner, _, scores = abtest.best_variant(campaign)
    assert winner.label == "A"
    assert len(set(scores.values())) == 1


def test_without_data_the_automatic_pick_leaves_it_to_a_person_and_says_why(
    sandbox, sender, hundred, manager, manager_client
):
    campaign = ended(launch(ab_campaign(sandbox, sender, hundred), manager))
    assert abtest.decide_due() == []
    campaign.refresh_from_db()
    assert campaign.ab_winner_id is None and campaign.ab_decided_at is not None
    assert campaign.state == State.RUNNING
    entry = AuditLogEntry.objects.get(action="campaign.ab_undecided", object_id=str(campaign.pk))
    assert "nobody has clicked" in entry.details["reason"]
    # It does not try again (a late click would otherwise decide behind a
    # person's back): the person picks.
    click(Message.objects.filter(campaign=campaign).first())
    assert abtest.decide_due() == []
    assert Campaign.objects.get(pk=campaign.pk).ab_winner_id is None

    page = manager_client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    section = page.split('id="abtest"')[1].split("</section>")[0]
    assert 'data-ab-state="undecided"' in page
    assert "the automatic pick could not decide: nobody has clicked a link" in section
    assert "Send variant A to the rest" in section and "Send variant B to the rest" in section
    waits = campaign_waiting(campaign)
    assert waits[-1].kind == "abtest"
    assert waits[-1].headline == "Waiting for a person to pick the A/B winner"

    b = campaign.variants.get(label="B")
    response = manager_client.post(
        reverse("campaigns:ab_pick", args=[campaign.pk]), {"variant": b.pk}, follow=True
    )
    assert "Variant B goes to the rest: 80 recipient(s)." in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.ab_winner == b and campaign.ab_decided_by == manager
    assert campaign.state == State.COMPLETED


def test_a_manual_winner_is_picked_by_a_person_only(
    sandbox, sender, hundred, manager, analyst, client
):
    campaign = launch(ab_campaign(sandbox, sender, hundred, ab_auto_winner=False), manager)
    assert abtest.decide_due(now=timezone.now() + dt.timedelta(days=1)) == []
    assert abtest.can_pick(campaign)
    a = campaign.variants.get(label="A")

    client.force_login(analyst)
    assert (
        client.post(reverse("campaigns:ab_pick", args=[campaign.pk]), {"variant": a.pk}).status_code
        == 403
    )

    sent = abtest.pick_winner(campaign=campaign, variant=a, user=manager)
    assert sent == 80
    campaign.refresh_from_db()
    assert campaign.ab_winner == a and campaign.ab_decided_by == manager
    entry = AuditLogEntry.objects.get(action="campaign.ab_winner", object_id=str(campaign.pk))
    assert entry.actor == manager and entry.details["picked"] == "by a person"
    assert Message.objects.filter(campaign=campaign, variant=a).count() == 90
    with pytest.raises(services.CampaignError, match="Variant A was already chosen"):
        abtest.pick_winner(
            campaign=campaign, variant=campaign.variants.get(label="B"), user=manager
        )
    assert Message.objects.filter(campaign=campaign).count() == 100


def test_an_automatic_test_is_not_picked_by_hand_before_it_could_not_decide(
    sandbox, sender, hundred, manager
):
    campaign = launch(ab_campaign(sandbox, sender, hundred), manager)
    assert not abtest.can_pick(campaign)
    with pytest.raises(services.CampaignError, match="picked automatically"):
        abtest.pick_winner(campaign=campaign, variant=campaign.variants.first(), user=manager)


def test_the_rest_is_written_once_when_two_pick_at_the_same_moment(
    sandbox, sender, hundred, manager, monkeypatch
):
    if connection.vendor != "postgresql":
        pytest.skip("row locks between connections need PostgreSQL")
    campaign = launch(ab_campaign(sandbox, sender, hundred, ab_auto_winner=False), manager)
    # The rest stays pending: nothing dispatches it here.
    started = []
    monkeypatch.setattr(abtest, "enqueue", lambda *args, **kw: started.append(args))
    a, b = campaign.variants.order_by("label")
    start = threading.Barrier(2)
    results = {}

    def pick(variant):
        try:
            start.wait()
            results[variant.label] = abtest.pick_winner(
                campaign=campaign, variant=variant, user=manager
            )
        except services.CampaignError as error:
            results[variant.label] = str(error)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=pick, args=(v,)) for v in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert started == [("campaigns.tasks.dispatch_campaign", campaign.pk)]
    sent = [r for r in results.values() if isinstance(r, int)]
    refused = [r for r in results.values() if isinstance(r, str)]
    assert sent == [80] and len(refused) == 1 and "already chosen" in refused[0]
    campaign.refresh_from_db()
    rest = Message.objects.filter(campaign=campaign, variant=campaign.ab_winner).count()
    assert rest == 90
    phones = Message.objects.filter(campaign=campaign).values_list("phone", flat=True)
    assert len(phones) == len(set(phones)) == 100
    assert campaign_counts([campaign.pk])[campaign.pk].total == 100


# -- lifecycle ------------------------------------------------------------------------------


def test_cancelling_before_the_winner_cancels_the_rest_too(sandbox, sender, hundred, manager):
    campaign = launch(ab_campaign(sandbox, sender, hundred), manager)
    services.campaign_cancel(campaign=campaign, user=manager)
    campaign = ended(campaign)
    assert abtest.decide_due() == []
    with pytest.raises(services.CampaignError, match="cancelled campaign"):
        abtest.send_winner(campaign.pk, campaign.variants.first().pk)
    assert Message.objects.filter(campaign=campaign).count() == 20
    summary = abtest.summary(campaign)
    assert summary.state == "cancelled" and not summary.can_pick


def test_a_paused_test_gets_its_winner_once_resumed(sandbox, sender, hundred, manager):
    campaign = launch(ab_campaign(sandbox, sender, hundred), manager)
    for m in Message.objects.filter(campaign=campaign, variant__label="B")[:2]:
        click(m)
    services.campaign_pause(campaign=campaign, user=manager)
    ended(campaign)
    assert abtest.decide_due() == []
    services.campaign_resume(campaign=Campaign.objects.get(pk=campaign.pk), user=manager)
    assert abtest.decide_due() == [campaign.pk]
    campaign.refresh_from_db()
    assert campaign.ab_winner.label == "B"
    assert campaign.state == State.COMPLETED
    phones = Message.objects.filter(campaign=campaign).values_list("phone", flat=True)
    assert len(phones) == len(set(phones)) == 100


def test_a_winner_picked_while_paused_waits_for_the_resume(sandbox, sender, hundred, manager):
    campaign = launch(ab_campaign(sandbox, sender, hundred, ab_auto_winner=False), manager)
    services.campaign_pause(campaign=campaign, user=manager)
    abtest.pick_winner(
        campaign=Campaign.objects.get(pk=campaign.pk),
        variant=campaign.variants.get(label="B"),
        user=manager,
    )
    pending = Message.objects.filter(campaign=campaign, status=Status.PENDING)
    assert pending.count() == 80
    services.campaign_resume(campaign=Campaign.objects.get(pk=campaign.pk), user=manager)
    assert not pending.exists()
    assert Campaign.objects.get(pk=campaign.pk).state == State.COMPLETED


# -- the composer ---------------------------------------------------------------------------


def composer_data(sandbox, sender, contact_list, **extra):
    data = {
        "name": "Spring A/B",
        "text": 'Hi {{ first_name|default:"there" }}, spring sale!',
        "account": sandbox.pk,
        "sender": sender.pk,
        "lists": [contact_list.pk],
        "ab_test": "on",
        "variant_b": "Spring sale: 20% off everything, today only, in every shop and online",
        "ab_test_share": "50",
        "ab_wait_minutes": "120",
        "ab_metric": "delivery",
        "ab_auto_winner": "True",
        "track_links": "on",
    }
    data.update(extra)
    return data


def test_the_composer_previews_each_variant_and_the_parts(
    manager_client, sandbox, sender, customers
):
    from campaigns import links

    long_link = "https://shop.example.com/spring/" + "x" * 200
    data = composer_data(
        sandbox,
        sender,
        customers,
        variant_b="Spring sale: " + "x" * 150,  # two parts
        variant_c="Frühlings‑Sale!",  # a non-breaking hyphen: UCS-2
        variant_d=f"Spring sale: {long_link}",  # one part: a short link goes
    )
    page = manager_client.post(reverse("campaigns:preview"), data).content.decode()
    ab = page.split('data-preview="ab-split"')[1]
    # Four variants: at least one recipient each, of the 4 (50% would be 2).
    assert "Test part: <strong>4</strong> of the 4 in the audience (50%)" in ab
    assert "The rest, <strong>0</strong>, get the variant with the best delivery rate" in ab
    assert "2 hours after the test starts" in ab
    rows = {label: ab.split(f'data-variant="{label}"')[1].split("</tr>")[0] for label in "ABCD"}
    assert 'data-preview="ab-parts">1<' in rows["A"]
    assert 'data-preview="ab-parts">2<' in rows["B"]
    assert 'data-preview="ab-encoding">UCS-2<' in rows["C"]
    assert 'data-preview="ab-parts">1<' in rows["D"]
    sample_d = ab.split('data-variant-sample="D">')[1].split("</div>")[0]
    assert sample_d == f"Spring sale: {links.short_url(links.SAMPLE_CODE)}"
    # Each variant's recipient priced at its own parts, on the audience's
    # average rate (3 DE at 0.075, 1 FR at 0.068).
    b_each = (3 * 2 * Decimal("0.075") + 2 * Decimal("0.068")) / 4
    assert f'data-preview="ab-cost">{format_money(b_each, "EUR")}<' in rows["B"]
    assert "Variant C goes as UCS-2" in page
    assert not Campaign.objects.exists()


def test_the_composer_saves_the_variants_and_launches_the_test(
    manager_client, sandbox, sender, customers
):
    response = manager_client.post(
        reverse("campaigns:create"), composer_data(sandbox, sender, customers, action="launch")
    )
    campaign = Campaign.objects.get(name="Spring A/B")
    assert response.status_code == 302
    assert list(campaign.variants.values_list("label", "text")) == [
        ("A", 'Hi {{ first_name|default:"there" }}, spring sale!'),
        ("B", "Spring sale: 20% off everything, today only, in every shop and online"),
    ]
    assert campaign.ab_test_share == 50 and campaign.ab_wait_minutes == 120
    assert campaign.ab_metric == "delivery" and campaign.ab_auto_winner
    assert campaign.state == State.RUNNING
    assert Message.objects.filter(campaign=campaign).count() == 2


def test_the_composer_explains_what_is_wrong_with_a_test(
    manager_client, sandbox, sender, customers
):
    data = composer_data(sandbox, sender, customers, variant_b="", ab_test_share="60")
    page = manager_client.post(reverse("campaigns:create"), data).content.decode()
    assert "Write a second text: an A/B test compares at least two variants." in page
    assert "the rest must be left for the winner" in page
    data = composer_data(
        sandbox, sender, customers, variant_b='Hi {{ first_name|default:"there" }}, spring sale!'
    )
    page = manager_client.post(reverse("campaigns:create"), data).content.decode()
    assert "This is the same text as variant A" in page
    data = composer_data(sandbox, sender, customers, ab_test_share="")
    page = manager_client.post(reverse("campaigns:create"), data).content.decode()
    assert "Give the share of the audience that tests the variants: 1 to 50%." in page
    assert not Campaign.objects.exists()


def test_switching_the_test_off_keeps_one_text(manager_client, sandbox, sender, customers):
    manager_client.post(reverse("campaigns:create"), composer_data(sandbox, sender, customers))
    campaign = Campaign.objects.get()
    assert campaign.variants.count() == 2
    page = manager_client.get(reverse("campaigns:edit", args=[campaign.pk])).content.decode()
    assert 'id="id_ab_test" checked' in page or 'checked id="id_ab_test"' in page
    assert "Spring sale: 20% off everything" in page
    data = composer_data(sandbox, sender, customers)
    del data["ab_test"]
    manager_client.post(reverse("campaigns:edit", args=[campaign.pk]), data)
    campaign.refresh_from_db()
    assert campaign.ab_test_share is None and not campaign.variants.exists()


def test_each_variant_is_checked_against_the_dlt_template(sandbox, sender, manager):
    from campaigns.models import Approval, DLTTemplate

    template = DLTTemplate.objects.create(
        name="Sale",
        template_id="1107160000000000001",
        principal_entity_id="1101",
        header=sender,
        category=DLTTemplate.Category.PROMOTIONAL,
        content="Dear {#var#}, our sale starts today. - Shop",
        status=Approval.APPROVED,
    )
    crowd = people(3)
    Contact.objects.create(phone="+919812345678", country="IN", first_name="Ravi")
    ListMembership.objects.create(
        contact_list=crowd, contact=Contact.objects.get(phone="+919812345678")
    )
    campaign = ab_campaign(
        sandbox,
        sender,
        crowd,
        texts=[
            "Dear {{ first_name }}, our sale starts today. - Shop",
            "Dear {{ first_name }}, our big sale starts now. - Shop",
        ],
        dlt_template=template,
    )
    result = compose.check(campaign)
    assert (
        "Variant B: 1 message(s) to India do not match the DLT template 1107160000000000001."
        in result.errors
    )
    assert ("+919812345678", "variant B does not match the registered template") in (
        result.dlt_mismatches
    )
    assert not any("Variant A" in e for e in result.errors)
    with pytest.raises(services.CampaignError, match="Variant B"):
        services.campaign_launch(campaign=campaign, user=manager)


def test_a_test_needs_two_to_four_variants_and_a_share_in_range(sandbox, sender, hundred):
    campaign = ab_campaign(sandbox, sender, hundred, texts=["Only one"], share=70)
    errors = compose.check(campaign).errors
    assert "An A/B test needs 2 to 4 variants of the text; this one has 1." in errors
    assert "The A/B test's share is 70%: give 1 to 50% of the audience." in errors


def test_the_click_metric_asks_for_a_link_in_every_variant(sandbox, sender, hundred):
    campaign = ab_campaign(sandbox, sender, hundred, texts=[f"Sale {LINK}", "Sale in the shop"])
    warnings = compose.check(campaign).warnings
    assert any("needs a link in every variant; variant B has none" in w for w in warnings)


def test_a_copy_keeps_the_test_but_not_its_outcome(sandbox, sender, hundred, manager):
    campaign = launch(ab_campaign(sandbox, sender, hundred, ab_auto_winner=False), manager)
    abtest.pick_winner(campaign=campaign, variant=campaign.variants.get(label="B"), user=manager)
    copy = services.campaign_clone(campaign=Campaign.objects.get(pk=campaign.pk), user=manager)
    assert list(copy.variants.values_list("label", "text")) == list(
        campaign.variants.values_list("label", "text")
    )
    assert (copy.ab_test_share, copy.ab_auto_winner) == (20, False)
    assert copy.ab_winner_id is None and copy.ab_test_ends_at is None


# -- the campaign page, the admin, the REST export -------------------------------------------


def test_the_campaign_page_shows_the_variants_with_their_figures(
    sandbox, sender, hundred, manager, manager_client
):
    campaign = launch(ab_campaign(sandbox, sender, hundred), manager)
    b = campaign.variants.get(label="B")
    for m in Message.objects.filter(campaign=campaign, variant=b)[:4]:
        click(m)
    page = manager_client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    section = page.split('id="abtest"')[1].split("</section>")[0]
    assert 'data-ab-state="testing"' in page
    assert "Testing until" in section
    assert '<span data-ab="rest">80</span> recipients wait for the winner' in section
    figures = engagement.variant_figures(campaign)
    for variant in campaign.variants.all():
        row = section.split(f'data-variant="{variant.label}"')[1].split("</tr>")[0]
        sent = Message.objects.filter(campaign=campaign, variant=variant).count()
        assert f'data-figure="sent">{sent}<' in row
        assert figures[variant.pk].sent == sent
        text = section.split(f'data-variant-text="{variant.label}"')[1].split("</div></div>")[0]
        assert text.endswith(f'<div class="preview-bubble">{variant.text}')
    row_b = section.split('data-variant="B"')[1].split("</tr>")[0]
    assert 'data-figure="clicks">4 <span class="muted small">(40.0%)' in row_b
    # An automatic test offers no button before it could not decide.
    assert "to the rest</button>" not in section
    assert "A/B test running" in page  # the waiting panel


def test_a_draft_shows_its_test_as_planned(manager_client, sandbox, sender, hundred):
    campaign = ab_campaign(sandbox, sender, hundred)
    page = manager_client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert 'data-ab-state="planned"' in page
    assert "20% of its audience is split evenly among the 2 variants" in page


def test_the_admin_keeps_variant_a_as_the_text(client, admin_user, sandbox, sender, hundred):
    campaign = ab_campaign(sandbox, sender, hundred)
    admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    page = client.get(url).content.decode()
    assert "variants-0-text" in page
    a, b = campaign.variants.order_by("label")
    data = {
        "name": campaign.name,
        "text": campaign.text,
        "sender": sender.pk,
        "account": sandbox.pk,
        "ab_test_share": "20",
        "ab_wait_minutes": "240",
        "ab_metric": "clicks",
        "ab_auto_winner": "on",
        "track_links": "on",
        "variants-TOTAL_FORMS": "2",
        "variants-INITIAL_FORMS": "2",
        "variants-MIN_NUM_FORMS": "0",
        "variants-MAX_NUM_FORMS": "4",
        "variants-0-id": a.pk,
        "variants-0-campaign": campaign.pk,
        "variants-0-label": "A",
        "variants-0-text": "Something else",
        "variants-1-id": b.pk,
        "variants-1-campaign": campaign.pk,
        "variants-1-label": "B",
        "variants-1-text": b.text,
    }
    page = client.post(url, data).content.decode()
    assert "Variant A is the campaign&#x27;s own text" in page
    data["variants-0-text"] = campaign.text
    data["variants-1-text"] = "A new B"
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert Variant.objects.get(pk=b.pk).text == "A new B"


def test_the_rest_api_exports_the_variants_with_their_figures(
    sandbox, sender, hundred, manager, draft, analyst
):
    from rest_framework.test import APIClient

    from smsportal import tokens

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.token_create(user=analyst, name='BI')[1]}")
    campaign = launch(ab_campaign(sandbox, sender, hundred), manager)
    click(Message.objects.filter(campaign=campaign, variant__label="A").first())
    found = api.get(f"/api/v1/campaigns/{campaign.pk}/").json()
    assert [v["label"] for v in found["variants"]] == ["A", "B"]
    a = found["variants"][0]
    assert a["sent"] == 10 and a["delivered"] == 10 and a["unique_clicks"] == 1
    assert a["click_rate"] == 0.1 and a["winner"] is False
    assert a["text"] == campaign.variants.get(label="A").text
    assert a["cost"] == "0.75000"
    listed = api.get("/api/v1/campaigns/").json()["results"]
    assert {c["id"]: len(c["variants"]) for c in listed} == {campaign.pk: 2, draft.pk: 0}
    response = api.get("/api/v1/campaigns/?format=csv")
    csv = b"".join(response.streaming_content).decode()
    header, *rows = csv.splitlines()
    assert header.endswith(",variants")
    exported = next(r for r in rows if r.startswith(f"{campaign.pk},"))
    assert '""label"": ""A""' in exported and '""sent"": 10' in exported


def test_a_test_send_sends_the_chosen_variant_s_text(manager_client, sandbox, sender, hundred):
    campaign = ab_campaign(sandbox, sender, hundred)
    page = manager_client.get(reverse("campaigns:detail", args=[campaign.pk])).content.decode()
    assert "Variant A (the message)" in page and ">Variant B<" in page
    response = manager_client.post(
        reverse("campaigns:test_send", args=[campaign.pk]),
        {"phone": "+4915129999999", "variant": "B"},
    )
    assert response.status_code == 302
    sent = Message.objects.get(campaign=campaign, is_test=True)
    assert sent.variant.label == "B"
    assert sent.text.startswith("Last chance, 20% off: ")
    # The test is no part of the audience, and nothing was materialised.
    assert not Message.objects.filter(campaign=campaign, is_test=False).exists()


def test_a_test_send_of_an_unknown_variant_is_refused_where_the_user_is(
    manager_client, sandbox, sender, hundred
):
    campaign = ab_campaign(sandbox, sender, hundred)
    response = manager_client.post(
        reverse("campaigns:test_send", args=[campaign.pk]),
        {"phone": "+4915129999999", "variant": "D"},
    )
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Message.objects.filter(campaign=campaign).exists()
