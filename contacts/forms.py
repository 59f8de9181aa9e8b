from django import forms

from smsportal.phones import InvalidNumber, country_choices, normalise

from . import segments
from .imports import ATTRIBUTE, CONSENT, FIRST_NAME, LAST_NAME, PHONE, attribute_key
from .models import ContactList, Segment


class ContactListForm(forms.ModelForm):
    class Meta:
        model = ContactList
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("A list needs a name.")
        clash = ContactList.objects.filter(name__iexact=name).exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(f"There is already a list called “{name}”.")
        return name


class AddContactsForm(forms.Form):
    numbers = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": "+4915112345678, Anna, Schmidt"}),
        help_text="One contact per line: number, then optionally first and last name.",
        max_length=200_000,
    )
    country = forms.ChoiceField(
        choices=[], required=False, label="Country for numbers without +country code"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = [
            ("", "— all numbers have +country code —"),
            *country_choices(),
        ]

    def clean_numbers(self):
        text = self.cleaned_data["numbers"]
        if "\x00" in text:
            raise forms.ValidationError("The text contains a null character.")
        if len(text.splitlines()) > 5000:
            raise forms.ValidationError("Paste at most 5,000 lines; import a file for more.")
        return text


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="File",
        help_text="CSV (any delimiter, UTF-8 or Windows encoding) or Excel .xlsx; the first "
        "sheet is read.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.tsv,.xlsx"}),
    )
    contact_list = forms.ModelChoiceField(
        queryset=ContactList.objects.all(),
        required=False,
        label="Into the list",
        empty_label="— a new list —",
    )
    new_list_name = forms.CharField(max_length=120, required=False, label="New list's name")

    def __init__(self, *args, suppressions=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.suppressions = suppressions
        if suppressions:
            del self.fields["contact_list"]
            del self.fields["new_list_name"]

    def clean(self):
        data = super().clean()
        if self.suppressions:
            return data
        name = (data.get("new_list_name") or "").strip()
        if not data.get("contact_list"):
            if not name:
                self.add_error("new_list_name", "Choose a list, or name a new one.")
            elif ContactList.objects.filter(name__iexact=name).exists():
                self.add_error("new_list_name", f"There is already a list called “{name}”.")
        data["new_list_name"] = name
        return data


IGNORE = ""


class ImportMappingForm(forms.Form):
    """One choice per column of the file, the header switch and the country
    for national numbers."""

    has_header = forms.BooleanField(required=False, label="The first row is a header")
    default_country = forms.ChoiceField(
        choices=[], required=False, label="Country for numbers without +country code"
    )

    def __init__(self, *args, contact_import, **kwargs):
        super().__init__(*args, **kwargs)
        self.contact_import = contact_import
        self.fields["default_country"].choices = [
            ("", "— all numbers have +country code —"),
            *country_choices(),
        ]
        self.column_fields = []
        for index, column in enumerate(contact_import.columns):
            key = attribute_key(column) or f"column_{index + 1}"
            name = f"col_{index}"
            self.fields[name] = forms.ChoiceField(
                label=column,
                required=False,
                choices=[
                    (IGNORE, "Ignore"),
                    (PHONE, "Phone number"),
                    (FIRST_NAME, "First name"),
                    (LAST_NAME, "Last name"),
                    (CONSENT, "Consent (yes, no or the date given)"),
                    (f"{ATTRIBUTE}{key}", f"Attribute “{key}”"),
                ],
                initial=contact_import.mapping.get(str(index), IGNORE)
                if contact_import.mapping.get(str(index), "").split(":")[0] != "attr"
                else f"{ATTRIBUTE}{key}",
            )
            self.column_fields.append(name)

    def columns(self):
        samples = self.contact_import.sample_rows
        for index, name in enumerate(self.column_fields):
            values = [row[index] if index < len(row) else "" for row in samples[:3]]
            yield self[name], values

    def clean(self):
        data = super().clean()
        mapping = {
            name.removeprefix("col_"): data.get(name)
            for name in self.column_fields
            if data.get(name)
        }
        targets = list(mapping.values())
        if targets.count(PHONE) != 1:
            raise forms.ValidationError("Choose exactly one column with the phone numbers.")
        for single in (FIRST_NAME, LAST_NAME):
            if targets.count(single) > 1:
                raise forms.ValidationError("Choose at most one column for each name.")
        if targets.count(CONSENT) > 1:
            raise forms.ValidationError("Choose at most one consent column.")
        data["mapping"] = mapping
        return data


class SuppressionForm(forms.Form):
    phone = forms.CharField(max_length=40, label="Number")
    country = forms.ChoiceField(
        choices=[], required=False, label="Country for a number without +country code"
    )
    note = forms.CharField(max_length=255, required=False, label="Why")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = [("", "— it has +country code —"), *country_choices()]

    def clean(self):
        data = super().clean()
        if data.get("phone"):
            try:
                data["number"] = normalise(data["phone"], data.get("country"))
            except InvalidNumber as exc:
                self.add_error("phone", f"Not a number we can send to: {exc}.")
        return data


class SegmentForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = ["name", "description", "match"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}
        labels = {"match": "Contacts matching"}

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        clash = Segment.objects.filter(name__iexact=name).exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(f"There is already a segment called “{name}”.")
        return name


class ConditionForm(forms.Form):
    # Callables: apps above contacts register fields once they are loaded.
    field = forms.ChoiceField(
        choices=lambda: [("", "—"), *segments.field_choices()], required=False
    )
    op = forms.ChoiceField(choices=lambda: [("", "—"), *segments.op_choices()], required=False)
    key = forms.CharField(max_length=60, required=False, label="Attribute")
    value = forms.CharField(max_length=500, required=False)

    def clean(self):
        data = super().clean()
        if not data.get("field"):
            data["condition"] = None
            return data
        try:
            data["condition"] = segments.clean_condition(data)
        except forms.ValidationError as exc:
            raise forms.ValidationError(exc.messages) from exc
        return data


ConditionFormSet = forms.formset_factory(ConditionForm, extra=2, max_num=20)
