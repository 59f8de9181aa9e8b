from django import forms
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from contacts.models import ContactList, Segment
from providers.models import ProviderAccount
from smsportal import roles
from smsportal.phones import (
    InvalidNumber,
    country_choices,
    default_country,
    normalise,
    search_prefix,
)

from . import abtest, compose
from .models import Approval, Campaign, DeliveryWindow, DLTTemplate, SenderID


def click_tracking_help(accounts) -> str:
    """What the provider option "Click tracking" does with each account, from
    its backend's capabilities: whether the provider shortens the links
    itself, and whether its clicks come back to smsportal."""
    parts = ["The provider shortens the links itself, instead of smsportal's tracked links."]
    for account in accounts:
        caps = account.backend_class(options=account.options).capabilities
        if not caps.click_tracking:
            what = "does not shorten links itself; this option changes nothing there."
        elif caps.click_reports:
            what = "reports each click back; they count on the campaign page."
        else:
            what = (
                "clicks are counted at the provider and not reported back, so the campaign "
                "page shows none."
            )
        parts.append(f"{account}: {what}")
    return " ".join(parts)


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = [
            "name",
            "text",
            "account",
            "sender",
            "dlt_template",
            "lists",
            "segments",
            "exclude_lists",
            "provider_lists",
            "consent_required",
            "window",
            "scheduled_at",
            "schedule_at_provider",
            "quiet_hours_lifted",
            "quiet_hours_reason",
            "keep_gsm7",
            "flash",
            "validity_minutes",
            "transliteration",
            "language_code",
            "click_tracking",
            # After click_tracking: its clean method reads that choice.
            "track_links",
            "campaign_ref",
            "callback_data",
            "ab_test_share",
            "ab_wait_minutes",
            "ab_metric",
            "ab_auto_winner",
        ]
        widgets = {
            "text": forms.Textarea(attrs={"rows": 5}),
            "scheduled_at": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "lists": forms.CheckboxSelectMultiple,
            "segments": forms.CheckboxSelectMultiple,
            "exclude_lists": forms.CheckboxSelectMultiple,
        }
        labels = {
            "account": "Provider account",
            "sender": "Sender ID",
            "dlt_template": "DLT template (India)",
            "window": "Delivery window",
            "scheduled_at": "Send at (leave empty to send on launch)",
            "validity_minutes": "Validity (minutes)",
            "campaign_ref": "Campaign reference",
            "keep_gsm7": "Replace special characters with plain look-alikes (cheaper GSM-7)",
            "schedule_at_provider": "Hand the schedule to the provider",
            "provider_lists": "Or: contact lists kept at the provider",
            "flash": "Flash SMS (shown on screen, not stored)",
            "language_code": "Language code",
            "consent_required": "Only contacts with recorded consent",
            "quiet_hours_lifted": "Lift the quiet hours for this campaign (Admin)",
            "quiet_hours_reason": "Why the quiet hours are lifted",
            "track_links": "Track links",
        }
        help_texts = {
            "keep_gsm7": "Smart quotes, long dashes and letters with a plain look-alike "
            "(ê → e, Ł → L, ő → o, ş → s) become it in every message, so it goes as GSM-7: "
            "160 characters a part instead of 70.",
            "transliteration": "Where the provider supports it, e.g. TURKISH or GREEK.",
            "callback_data": "Returned with each delivery report, where the provider supports it.",
            "track_links": "Each link in the text becomes a short link of the recipient's own "
            "(counted with its length in the parts and cost), so the campaign page shows who "
            "clicked; link previews by chat apps are not counted. Unticked, links go as written.",
            "provider_lists": "Their ids at the provider, comma-separated (Infopromo API v3), "
            "instead of smsportal's lists: the provider sends one text to them, and the "
            "campaign page shows the provider's counts.",
            "consent_required": "Contacts whose consent is not “opted in” are skipped at launch "
            "(“no recorded consent”); the preview counts them.",
            "quiet_hours_lifted": "The site's quiet hours hold messages while it is night where "
            "the recipient is. Lift them only for messages that must go out at any hour; the "
            "reason is kept in the audit log.",
            "schedule_at_provider": "On launch the messages go to the provider with the send "
            "time, and the provider sends them then, even if smsportal is down at that time. "
            "Such a campaign cannot be paused, and cancelling stops what the provider already "
            "holds only where it can cancel. For accounts whose provider schedules (Infobip, "
            "Infopromo, voip-communications); no delivery window.",
        }

    # -- A/B test: variant A is the text above; B to D, its share of the
    # audience, the waiting time, the metric and who picks the winner.
    ab_test = forms.BooleanField(
        required=False,
        label="Test variants of the text (A/B test)",
        help_text="Part of the audience gets the variants, split evenly; after the waiting "
        "time the rest gets the one that did best.",
    )
    variant_b = forms.CharField(
        required=False, label="Variant B", widget=forms.Textarea(attrs={"rows": 3})
    )
    variant_c = forms.CharField(
        required=False,
        label="Variant C (optional)",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    variant_d = forms.CharField(
        required=False,
        label="Variant D (optional)",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    ab_test_share = forms.IntegerField(
        required=False,
        min_value=abtest.SHARE_MIN,
        max_value=abtest.SHARE_MAX,
        label="Test share (% of the audience)",
        help_text=f"{abtest.SHARE_MIN} to {abtest.SHARE_MAX}%, split evenly among the variants.",
        # (%% : the validators' messages are %-formatted.)
        error_messages={
            "min_value": f"Give {abtest.SHARE_MIN} to {abtest.SHARE_MAX}%% of the audience.",
            "max_value": f"Give {abtest.SHARE_MIN} to {abtest.SHARE_MAX}%% of the audience: "
            "the rest must be left for the winner.",
        },
    )
    ab_wait_minutes = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        choices=[(m, abtest.wait_text(m)) for m in (30, 60, 120, 240, 480, 720, 1440, 2880)],
        label="Waiting time",
        help_text="From the start of sending to the choice of the winner: time for the "
        "recipients to read, click and buy.",
    )
    ab_metric = forms.ChoiceField(
        required=False, choices=Campaign.ABMetric.choices, label="Winning metric"
    )
    ab_auto_winner = forms.TypedChoiceField(
        required=False,
        coerce=lambda value: value in (True, "True"),
        empty_value=True,
        choices=[
            (True, "Automatically, by the metric"),
            (False, "I pick it on the campaign page"),
        ],
        widget=forms.RadioSelect,
        label="Winner",
        help_text="Where no variant has figures for the metric (nobody clicked, say), "
        "nothing is guessed: the campaign page asks a person to pick.",
    )
    AB_FIELDS = (
        "ab_test",
        "variant_b",
        "variant_c",
        "variant_d",
        "ab_test_share",
        "ab_wait_minutes",
        "ab_metric",
        "ab_auto_winner",
    )
    VARIANT_FIELDS = ("variant_b", "variant_c", "variant_d")

    def ab_fields(self):
        return [self[name] for name in self.AB_FIELDS]

    def _init_ab_test(self):
        campaign = self.instance
        on = campaign.ab_test_share is not None
        self.initial.setdefault("ab_test", on)
        if not on:
            self.initial["ab_test_share"] = 20
        for name in ("ab_wait_minutes", "ab_metric", "ab_auto_winner"):
            # A new campaign's form has no initial values of its own.
            self.initial.setdefault(name, getattr(campaign, name))
        choices = self.fields["ab_wait_minutes"].choices
        if campaign.ab_wait_minutes not in [m for m, _ in choices]:
            # A time set in the admin stays choosable.
            self.fields["ab_wait_minutes"].choices = sorted(
                [*choices, (campaign.ab_wait_minutes, abtest.wait_text(campaign.ab_wait_minutes))]
            )
        if campaign.pk and on:
            stored = dict(campaign.variants.values_list("label", "text"))
            for label, name in zip(abtest.LABELS[1:], self.VARIANT_FIELDS, strict=True):
                self.initial.setdefault(name, stored.get(label, ""))

    def _clean_variant(self, name):
        text = self.cleaned_data.get(name, "")
        if "\x00" in text:
            raise forms.ValidationError("The text contains a null character.")
        too_long = compose.text_length_problem(text)
        if too_long:
            raise forms.ValidationError(too_long)
        return text

    def clean_variant_b(self):
        return self._clean_variant("variant_b")

    def clean_variant_c(self):
        return self._clean_variant("variant_c")

    def clean_variant_d(self):
        return self._clean_variant("variant_d")

    def _clean_ab_test(self, data):
        data["ab_metric"] = data.get("ab_metric") or self.instance.ab_metric
        if data.get("ab_wait_minutes") is None:
            data["ab_wait_minutes"] = self.instance.ab_wait_minutes
        if not data.get("ab_test"):
            data["ab_test_share"] = None
            return
        if "ab_test_share" not in self.errors and data.get("ab_test_share") is None:
            self.add_error(
                "ab_test_share",
                f"Give the share of the audience that tests the variants: "
                f"{abtest.SHARE_MIN} to {abtest.SHARE_MAX}%.",
            )
        given = [name for name in self.VARIANT_FIELDS if (data.get(name) or "").strip()]
        if not given and not any(name in self.errors for name in self.VARIANT_FIELDS):
            self.add_error(
                "variant_b", "Write a second text: an A/B test compares at least two variants."
            )
        seen = {data.get("text") or "": "A"}
        for label, name in zip(abtest.LABELS[1:], given, strict=False):
            text = data[name]
            if text in seen:
                self.add_error(
                    name,
                    f"This is the same text as variant {seen[text]}: give each variant its "
                    "own text.",
                )
            seen.setdefault(text, label)
        if data.get("provider_lists"):
            self.add_error(
                "ab_test",
                "An A/B test splits smsportal's own audience: it cannot be sent to the "
                "provider's contact lists.",
            )

    def variant_texts(self) -> list[str]:
        """The texts of the A/B test as saved (A, the text, first; blank
        variants left out, the others labelled in order); empty when there
        is none."""
        data = self.cleaned_data
        if not data.get("ab_test"):
            return []
        return [data["text"]] + [
            data[name] for name in self.VARIANT_FIELDS if (data.get(name) or "").strip()
        ]

    def variants_typed(self) -> list[tuple[str, str]] | None:
        """(label, text) of the variants the form holds now, valid or not
        (the preview follows the typing); None when the test is off."""
        if not self.is_bound or not self["ab_test"].value():
            return None
        texts = [self.data.get("text", "")] + [
            self.data.get(name, "")
            for name in self.VARIANT_FIELDS
            if self.data.get(name, "").strip()
        ]
        return list(zip(abtest.LABELS, texts, strict=False))

    # Provider options: shown folded away, every provider uses the ones it has.
    OPTION_FIELDS = (
        "flash",
        "validity_minutes",
        "transliteration",
        "language_code",
        "click_tracking",
        "campaign_ref",
        "callback_data",
    )

    def main_fields(self):
        return [
            f for f in self if f.name not in self.OPTION_FIELDS and f.name not in self.AB_FIELDS
        ]

    def option_fields(self):
        return [f for f in self if f.name in self.OPTION_FIELDS]

    # Only an Admin sees (and may change) these.
    ADMIN_FIELDS = ("quiet_hours_lifted", "quiet_hours_reason")

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_ab_test()
        if not roles.can_administer(user):
            for name in self.ADMIN_FIELDS:
                del self.fields[name]
        self.fields["account"].queryset = ProviderAccount.objects.filter(enabled=True)
        self.fields["sender"].queryset = SenderID.objects.exclude(status=Approval.REJECTED)
        self.fields["dlt_template"].queryset = DLTTemplate.objects.filter(status=Approval.APPROVED)
        self.fields["lists"].queryset = ContactList.objects.all()
        self.fields["exclude_lists"].queryset = ContactList.objects.all()
        self.fields["segments"].queryset = Segment.objects.all()
        self.fields["segments"].help_text = (
            "Contacts matching a segment when the campaign launches."
            if Segment.objects.exists()
            else format_html(
                'No segment yet: <a href="{}">build one</a> to send to the contacts matching '
                "it when the campaign launches.",
                reverse("contacts:segment_create"),
            )
        )
        self.fields["window"].queryset = DeliveryWindow.objects.all()
        self.fields["text"].help_text = (
            "Placeholders: {{ first_name }}, {{ last_name }}, any imported column, and a "
            'default with {{ first_name|default:"there" }}.'
        )
        self.fields["click_tracking"].help_text = click_tracking_help(
            self.fields["account"].queryset
        )

    def clean_track_links(self):
        """smsportal's short links, or the provider's own shortening: one
        of them (a link shortened twice would be counted by neither)."""
        track = self.cleaned_data.get("track_links")
        if track and self.cleaned_data.get("click_tracking"):
            raise forms.ValidationError(
                "Choose one way to track clicks: untick “Track links” to let the provider "
                "shorten the links (“Click tracking” under Provider options), or untick "
                "“Click tracking” to use smsportal's own short links."
            )
        return track

    def clean_scheduled_at(self):
        value = self.cleaned_data.get("scheduled_at")
        if value and value <= timezone.now():
            raise forms.ValidationError("This time is in the past; choose a future time.")
        return value

    def clean_text(self):
        text = self.cleaned_data["text"]
        if "\x00" in text:
            raise forms.ValidationError("The message contains a null character.")
        too_long = compose.text_length_problem(text)
        if too_long:
            raise forms.ValidationError(too_long)
        return text

    def clean(self):
        data = super().clean()
        own_audience = bool(data.get("lists") or data.get("segments"))
        if data.get("provider_lists"):
            problems = compose.provider_list_problems(
                Campaign(
                    provider_lists=data["provider_lists"],
                    account=data.get("account"),
                    text=data.get("text") or "",
                    window=data.get("window"),
                    consent_required=bool(data.get("consent_required")),
                ),
                has_own_audience=own_audience,
            )
            for problem in problems:
                self.add_error("provider_lists", problem)
        elif not own_audience:
            self.add_error("lists", "Choose at least one list or segment to send to.")
        if data.get("schedule_at_provider"):
            problems = compose.provider_schedule_problems(
                Campaign(
                    schedule_at_provider=True,
                    account=data.get("account"),
                    scheduled_at=data.get("scheduled_at"),
                    window=data.get("window"),
                )
            )
            for problem in problems:
                self.add_error("schedule_at_provider", problem)
        if "quiet_hours_lifted" in data and not data["quiet_hours_lifted"]:
            data["quiet_hours_reason"] = ""  # a reason only goes with a lift
        included = set(data.get("lists") or [])
        excluded = set(data.get("exclude_lists") or [])
        if included and included <= excluded:
            self.add_error("exclude_lists", "Every chosen list is also excluded: nobody is left.")
        self._clean_ab_test(data)
        return data


class TestSendForm(forms.Form):
    phone = forms.CharField(max_length=40, label="Phone number")
    country = forms.ChoiceField(
        choices=[("", "— number has +country code —")],
        required=False,
        label="Country for national numbers",
    )

    def __init__(self, *args, variants=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = [("", "— number has +country code —"), *country_choices()]
        if variants:
            # An A/B test: which variant's text the test is.
            self.fields["variant"] = forms.ChoiceField(
                choices=[
                    (label, "Variant A (the message)" if label == "A" else f"Variant {label}")
                    for label in variants
                ],
                required=False,
                label="Text to send",
            )

    def clean(self):
        data = super().clean()
        if data.get("phone"):
            try:
                data["number"] = normalise(data["phone"], data.get("country"))
            except InvalidNumber as exc:
                self.add_error("phone", f"Not a valid number: {exc}.")
        return data


class SenderForm(forms.ModelForm):
    countries_text = forms.CharField(
        required=False,
        label="Countries",
        help_text="Country codes it may be used for, e.g. DE, FR. Empty: everywhere.",
    )

    class Meta:
        model = SenderID
        fields = ["value", "accounts", "note"]
        labels = {"value": "Sender ID"}
        widgets = {"accounts": forms.CheckboxSelectMultiple}

    def clean_countries_text(self):
        raw = self.cleaned_data.get("countries_text", "")
        codes = [c.strip().upper() for c in raw.replace(";", ",").split(",") if c.strip()]
        known = {code for code, _ in country_choices()}
        wrong = [c for c in codes if c not in known]
        if wrong:
            raise forms.ValidationError(f"Unknown country code(s): {', '.join(wrong)}.")
        return codes

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from providers.registry import BACKENDS, backend_class

        # Each provider's documented rule, once (both Infopromo APIs share one).
        rules = dict.fromkeys(filter(None, (backend_class(k).sender_rule for k in BACKENDS)))
        self.fields["value"].help_text = " ".join(
            ["Checked against the rules of every account it is registered with.", *rules]
        )

    def clean(self):
        data = super().clean()
        self.instance.countries = data.get("countries_text") or []
        value = (data.get("value") or "").strip()
        for account in data.get("accounts") or []:
            # What the provider would refuse when the campaign sends.
            for problem in account.backend_class(options=account.options).sender_errors(value):
                self.add_error("value", f"{account}: {problem}")
        return data


class DeliveryWindowForm(forms.ModelForm):
    days = forms.TypedMultipleChoiceField(
        choices=list(enumerate(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])),
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = DeliveryWindow
        fields = ["name", "days", "start_time", "end_time", "recipient_local", "time_zone"]
        widgets = {
            "start_time": forms.TimeInput(attrs={"type": "time"}),
            "end_time": forms.TimeInput(attrs={"type": "time"}),
        }


class MessageFilterForm(forms.Form):
    """The message log's filters; every one optional, each checked so a
    wrong value is explained beside it instead of silently ignored."""

    campaign = forms.ModelChoiceField(
        queryset=Campaign.objects.none(), required=False, empty_label="Any campaign"
    )
    status = forms.ChoiceField(choices=[], required=False)
    account = forms.ModelChoiceField(
        queryset=ProviderAccount.objects.none(),
        required=False,
        empty_label="Any provider",
        label="Provider",
    )
    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    phone = forms.CharField(
        required=False,
        max_length=30,
        label="Number",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "+49 151…, 0151…"}),
    )

    def __init__(self, *args, **kwargs):
        from providers.status import Status

        super().__init__(*args, **kwargs)
        # The newest campaigns: a dropdown of every campaign ever is useless;
        # older ones are reached from their own page's "All messages" link.
        self.fields["campaign"].queryset = Campaign.objects.only("id", "name")
        newest = list(Campaign.objects.only("id", "name").order_by("-id")[:300])
        chosen = str(self.data.get("campaign", ""))
        if chosen.isdigit() and all(str(c.pk) != chosen for c in newest):
            newest += list(Campaign.objects.only("id", "name").filter(pk=int(chosen)))
        self.fields["campaign"].choices = [("", "Any campaign")] + [(c.pk, c.name) for c in newest]
        self.fields["account"].queryset = ProviderAccount.objects.all()
        self.fields["status"].choices = [("", "Any status"), *Status.choices]

    def clean_phone(self):
        """The start of the numbers sought, in E.164: as people type them,
        national ones ("0176 1003…") in the site's country."""
        raw = self.cleaned_data.get("phone", "").strip()
        if not raw:
            return ""
        digits = "".join(ch for ch in raw if ch.isdigit())
        if not digits or any(ch not in "+0123456789 -()/." for ch in raw):
            raise forms.ValidationError(
                "Search by number uses digits, e.g. +49 176 1003, 0176 1003 or 4917."
            )
        return search_prefix(raw, default_country())

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return data

    def filter(self, queryset):
        """``queryset`` narrowed by the valid filters (dates in the user's
        time zone)."""
        import datetime as dt

        data = self.cleaned_data
        if data.get("campaign"):
            queryset = queryset.of_campaign(data["campaign"].pk)
        if data.get("status"):
            queryset = queryset.filter(status=data["status"])
        if data.get("account"):
            queryset = queryset.filter(account=data["account"])
        zone = timezone.get_current_timezone()
        if data.get("since"):
            start = dt.datetime.combine(data["since"], dt.time.min, tzinfo=zone)
            queryset = queryset.filter(created_at__gte=start)
        if data.get("until"):
            end = dt.datetime.combine(
                data["until"] + dt.timedelta(days=1), dt.time.min, tzinfo=zone
            )
            queryset = queryset.filter(created_at__lt=end)
        if data.get("phone"):
            queryset = queryset.filter(phone__startswith=data["phone"])
        return queryset


class DLTTemplateForm(forms.ModelForm):
    class Meta:
        model = DLTTemplate
        fields = [
            "name",
            "template_id",
            "principal_entity_id",
            "telemarketer_id",
            "header",
            "category",
            "content",
        ]
        labels = {
            "template_id": "DLT template ID",
            "principal_entity_id": "Principal entity ID (PE ID)",
            "telemarketer_id": "Telemarketer ID",
            "header": "Header (sender ID)",
            "content": "Registered content",
        }
        help_texts = {"content": "Exactly as registered, with {#var#} where a value goes."}
        widgets = {"content": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["header"].queryset = SenderID.objects.exclude(status=Approval.REJECTED)


class DLTTestForm(forms.Form):
    """A message to try against a registered template."""

    template = forms.ModelChoiceField(queryset=DLTTemplate.objects.all())
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        label="Message",
        help_text="The text as a recipient would get it, placeholders filled in.",
    )
