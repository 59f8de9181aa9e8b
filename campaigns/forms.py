from django import forms
from django.utils import timezone

from contacts.models import ContactList
from contacts.phones import InvalidNumber, country_choices, normalise
from providers.models import ProviderAccount

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
            "exclude_lists",
            "window",
            "scheduled_at",
            "flash",
            "validity_minutes",
            "click_tracking",
            "campaign_ref",
            "callback_data",
        ]
        widgets = {
            "text": forms.Textarea(attrs={"rows": 5}),
            "scheduled_at": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "lists": forms.CheckboxSelectMultiple,
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
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = ProviderAccount.objects.filter(enabled=True)
        self.fields["sender"].queryset = SenderID.objects.exclude(status=Approval.REJECTED)
        self.fields["dlt_template"].queryset = DLTTemplate.objects.filter(status=Approval.APPROVED)
        self.fields["lists"].queryset = ContactList.objects.all()
        self.fields["exclude_lists"].queryset = ContactList.objects.all()
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
        if len(text) > 1600:
            raise forms.ValidationError("A message has at most 1600 characters (10 parts).")
        return text

    def clean(self):
        data = super().clean()
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

    def clean(self):
        data = super().clean()
        self.instance.countries = data.get("countries_text") or []
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
