"""The shared partials in _fragment.html render the markup app.css styles.

Rendered straight through the template loader: no database, no URLs.
"""

from django import forms
from django.template.loader import render_to_string


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=10, help_text="Only your team sees this name.")
    flash = forms.BooleanField(required=False, label="Send as flash SMS")


def render(partial, **context):
    return render_to_string(f"_fragment.html#{partial}", context)


def test_status_badge_uses_the_state_as_class_and_text():
    html = render("status_badge", status="delivered")

    assert html.strip() == '<span class="badge badge-delivered">Delivered</span>'


def test_status_badge_prefers_the_given_label():
    html = render("status_badge", status="unknown", label="Unknown – needs review")

    assert 'class="badge badge-unknown"' in html
    assert ">Unknown – needs review<" in html


def test_progress_is_a_progress_element_without_inline_style():
    html = render("progress", done=1234, total=5000, label="Submitted")

    assert '<progress class="progress-bar" max="5000" value="1234"' in html
    assert "1,234 of 5,000 · 24.7%" in html
    assert "Submitted" in html
    assert "style=" not in html


def test_progress_survives_an_empty_audience():
    html = render("progress", done=0, total=0)

    assert 'max="1" value="0"' in html
    assert "0 of 0 · —" in html


def test_progress_marks_a_finished_run():
    html = render("progress", done=10, total=10)

    assert "progress-complete" in html
    assert "10 of 10 · 100.0%" in html


def test_progress_never_rounds_an_unfinished_run_to_100():
    html = render("progress", done=999_999, total=1_000_000)

    assert "progress-complete" not in html
    assert "999,999 of 1,000,000 · &gt;99.9%" in html


def test_field_renders_label_widget_and_help_text():
    form = CampaignForm()
    html = render("field", field=form["name"])

    assert '<label for="id_name">Name</label>' in html
    assert 'name="name"' in html
    assert '<div class="help" id="id_name_helptext">Only your team sees this name.</div>' in html
    assert "is-required" in html
    assert "field-errors" not in html


def test_field_shows_errors_under_the_widget_tied_to_it():
    form = CampaignForm(data={"name": "far too long a name"})
    assert not form.is_valid()
    html = render("field", field=form["name"])

    assert "has-error" in html
    assert 'aria-invalid="true"' in html
    assert '<ul class="field-errors" id="id_name_error">' in html
    assert "at most 10 characters" in html
    # Errors come straight after the widget, before the help text.
    assert html.index('name="name"') < html.index("field-errors") < html.index('class="help"')


def test_checkbox_field_puts_its_label_beside_the_box():
    form = CampaignForm()
    html = render("field", field=form["flash"])

    assert "field-check" in html
    assert '<label class="check" for="id_flash"><input type="checkbox"' in html
    assert "Send as flash SMS" in html
    assert "is-required" not in html


def test_form_errors_lists_non_field_errors():
    form = CampaignForm(data={"name": "ok"})
    form.is_valid()
    form.add_error(None, "Sender ACME is not approved for this provider.")
    html = render("form_errors", form=form)

    assert 'class="form-errors" role="alert"' in html
    assert "<li>Sender ACME is not approved for this provider.</li>" in html


def test_form_errors_is_silent_on_a_valid_form():
    form = CampaignForm(data={"name": "ok"})
    assert form.is_valid()

    assert render("form_errors", form=form).strip() == ""


def test_pagination_links_keep_their_hrefs():
    html = render("pagination", prev_url="", next_url="?page=2&q=acme")

    assert 'href="?page=2&amp;q=acme" rel="next"' in html
    assert 'aria-disabled="true">← Previous' in html
    assert "hx-get" not in html


def test_empty_shows_the_message():
    html = render("empty", message="No campaigns yet.")

    assert '<div class="empty">' in html
    assert "No campaigns yet." in html
