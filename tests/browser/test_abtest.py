"""An A/B test in a real browser, at 1366 px and on a 390 px phone: composed
with two variants, each previewed with its parts and cost, launched (the
confirmation says what goes out now), shown on the campaign page, and its
winner picked there by a person."""

import pytest
from playwright.sync_api import expect

from campaigns.models import Campaign, Message
from campaigns.selectors import SENT
from tests.conftest import PASSWORD

from .conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = pytest.mark.parametrize("width", [1366, 390], ids=["1366px", "390px"])
LONG_B = "Spring sale! Everything 20% off today and tomorrow, in every shop and online. " * 3


@WIDTHS
def test_a_test_of_two_variants_is_composed_launched_and_won(
    page, shot, manager, sandbox, sender, customers, width
):
    page.set_viewport_size({"width": width, "height": 900})
    login(page, "mona", PASSWORD)
    page.goto("/campaigns/new/")
    page.fill("#id_name", "Spring A/B")
    page.select_option("#id_account", label="Sandbox")
    page.select_option("#id_sender", label="Shop")
    page.check("#id_lists input[type=checkbox] >> nth=0")
    page.locator("#id_text").press_sequentially("Hi {{ first_name }}, spring sale!")
    preview = page.locator("#composer-preview")
    expect(preview.locator("[data-preview=audience]")).to_have_text("4 recipient(s)")

    page.click("#ab-test > summary")
    page.check("#id_ab_test")
    page.fill("#id_variant_b", LONG_B)
    page.fill("#id_ab_test_share", "50")
    page.select_option("#id_ab_metric", "delivery")
    page.check("#id_ab_auto_winner input[value=False]")
    split = preview.locator("[data-preview=ab-split]")
    expect(split).to_contain_text("Test part: 2 of the 4 in the audience (50%)")
    expect(split).to_contain_text("The rest, 2, get the variant you pick 4 hours after")
    variants = preview.locator("[data-preview=ab-variants]")
    expect(variants.locator("[data-variant=A] [data-preview=ab-parts]")).to_have_text("1")
    expect(variants.locator("[data-variant=B] [data-preview=ab-parts]")).to_have_text("2")
    expect(variants.locator("[data-variant=rest]")).to_contain_text("≤")
    expect(preview.locator("[data-preview=checks]")).to_contain_text("Ready to launch.")
    page.locator("#ab-test").scroll_into_view_if_needed()
    shot(page, f"abtest-composer-{width}")

    questions = []

    def accept(dialog):
        questions.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.click("button:has-text('Save and launch')")
    expect(page.locator(".flash-success")).to_contain_text("Launched")
    assert questions[0].startswith(
        "Send the A/B test to 2 of 4 recipient(s), then the winner to the rest, for about"
    )
    campaign = Campaign.objects.get(name="Spring A/B")
    section = page.locator("#abtest")
    expect(section).to_have_attribute("data-ab-state", "testing")
    expect(section.locator("[data-ab=state]")).to_contain_text(
        "2 recipients wait for the winner: the variant picked here"
    )
    rows = section.locator("#ab-variants tbody tr")
    expect(rows).to_have_count(2)
    for label in "AB":
        sent = Message.objects.filter(campaign=campaign, variant__label=label).count()
        expect(section.locator(f"[data-variant={label}] [data-figure=sent]")).to_have_text(
            str(sent)
        )
    expect(section.locator("[data-variant-text=B] .preview-bubble")).to_have_text(LONG_B)
    expect(page.locator("#waiting [data-waiting=abtest]")).to_contain_text("A/B test running")
    pick = section.locator("button:has-text('Send variant B to the rest')")
    pick.scroll_into_view_if_needed()
    box = pick.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= width
    shot(page, f"abtest-running-{width}")

    page.once("dialog", accept)
    pick.click()
    expect(page.locator(".flash-success")).to_have_text(
        "Variant B goes to the rest: 2 recipient(s)."
    )
    assert questions[1] == (
        "Send variant B to the 2 recipients waiting for the winner? This cannot be undone."
    )
    expect(section).to_have_attribute("data-ab-state", "decided")
    expect(section.locator("[data-ab=winner]")).to_have_text("Variant B won")
    expect(section).to_contain_text("Picked by mona")
    expect(section.locator("[data-variant=B]")).to_contain_text("Winner")
    expect(section.locator("button:has-text('to the rest')")).to_have_count(0)
    expect(page.locator("#audit")).to_contain_text("A/B test winner chosen")
    campaign.refresh_from_db()
    assert campaign.ab_winner.label == "B" and campaign.state == Campaign.State.COMPLETED
    assert Message.objects.filter(campaign=campaign).count() == 4
    # Its figures count the rest too: as in the database.
    b_sent = Message.objects.filter(campaign=campaign, variant__label="B", status__in=SENT)
    expect(section.locator("[data-variant=B] [data-figure=sent]")).to_have_text(str(b_sent.count()))
    shot(page, f"abtest-decided-{width}")
