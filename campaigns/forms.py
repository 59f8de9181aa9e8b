from django import forms
from django.utils import timezone

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

from . import compose
from .models import Approval, Campaign, DeliveryWindow, DLTTemplate, SenderID


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
            "campaign_ref",
            "callback_data",
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
        }
        help_texts = {
            "keep_gsm7": "Smart quotes, long dashes and letters with a plain look-alike "
            "(ê → e, Ł → L, ő → o, ş → s) become it in every message, so it goes as GSM-7: "
            "160 characters a part instead of 70.",
            "transliteration": "Where the provider supports it, e.g. TURKISH or GREEK.",
            "callback_data": "Returned with each delivery report, where the provider supports it.",
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
        return [f for f in self if f.name not in self.OPTION_FIELDS]

    def option_fields(self):
        return [f for f in self if f.name in self.OPTION_FIELDS]

    # Only an Admin sees (and may change) these.
    ADMIN_FIELDS = ("quiet_hours_lifted", "quiet_hours_reason")

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if not roles.can_administer(user):
            for name in self.ADMIN_FIELDS:
                del self.fields[name]
        self.fields["account"].queryset = ProviderAccount.objects.filter(enabled=True)
        self.fields["sender"].queryset = SenderID.objects.exclude(status=Approval.REJECTED)
        self.fields["dlt_template"].queryset = DLTTemplate.objects.filter(status=Approval.APPROVED)
        self.fields["lists"].queryset = ContactList.objects.all()
        self.fields["exclude_lists"].queryset = ContactList.objects.all()
        self.fields["segments"].queryset = Segment.objects.all()
        self.fields[
            "segments"
        ].help_text = "Contacts matching a segment when the campaign launches."
        self.fields["window"].queryset = DeliveryWindow.objects.all()
        self.fields["text"].help_text = (
            "Placeholders: {{ first_name }}, {{ last_name }}, any imported column, and a "
            'default with {{ first_name|default:"there" }}.'
        )

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
        return data


class TestSendForm(forms.Form):
    phone = forms.CharField(max_length=40, label="Phone number")
    country = forms.ChoiceField(
        choices=[("", "— number has +country code —")],
        required=False,
        label="Country for national numbers",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = [("", "— number has +country code —"), *country_choices()]

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
