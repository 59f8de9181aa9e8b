import zoneinfo

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
                initial=self._initial(index, key),
            )
            self.column_fields.append(name)

    def _initial(self, index: int, key: str) -> str:
        """What a column is imported as until the user says otherwise: what
        the first look guessed; other named columns become an attribute
        named after their header (a file without a header: ignored)."""
        guessed = self.contact_import.mapping.get(str(index), "")
        if guessed.split(":")[0] == "attr" or (not guessed and self.contact_import.has_header):
            return f"{ATTRIBUTE}{key}"
        return guessed or IGNORE

    def chosen(self) -> tuple[dict, str, bool]:
        """(mapping, country, has header) as the form holds them now, valid
        or not: what the preview of the first rows reads."""
        if not self.is_bound:
            values = {name: self[name].initial for name in self.fields}
        else:
            self.is_valid()
            values = {name: self.cleaned_data.get(name) for name in self.fields}
        mapping = {
            name.removeprefix("col_"): values[name]
            for name in self.column_fields
            if values.get(name)
        }
        return mapping, values.get("default_country") or "", bool(values.get("has_header"))

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


# The contact's own time zone, where quiet hours read it (an attribute,
# as an imported "Time zone" column gives it).
OWN_TIME_ZONE = "time_zone"


class ContactEditForm(forms.Form):
    first_name = forms.CharField(max_length=100, required=False)
    last_name = forms.CharField(max_length=100, required=False)
    own_time_zone = forms.ChoiceField(
        required=False,
        label="Time zone",
        help_text="Where the contact is, when the number does not tell (quiet hours and "
        "windows in the recipient's time read it).",
    )

    def __init__(self, *args, contact, **kwargs):
        kwargs.setdefault(
            "initial",
            {
                "first_name": contact.first_name,
                "last_name": contact.last_name,
                "own_time_zone": (contact.attributes or {}).get(OWN_TIME_ZONE, ""),
            },
        )
        super().__init__(*args, **kwargs)
        from_number = contact.time_zone or "unknown"
        zones = sorted(zoneinfo.available_timezones())
        current = self.initial.get("own_time_zone", "")
        self.fields["own_time_zone"].choices = [
            ("", f"From the number ({from_number})"),
            *(((current, current),) if current and current not in zones else ()),
            *((zone, zone) for zone in zones),
        ]


class AttributeForm(forms.Form):
    key = forms.CharField(max_length=60, required=False, label="Name")
    value = forms.CharField(max_length=1000, required=False)

    def clean(self):
        data = super().clean()
        raw = (data.get("key") or "").strip()
        key = attribute_key(raw)
        if raw and not key:
            raise forms.ValidationError("Give the attribute a name with letters or digits.")
        if key == OWN_TIME_ZONE:
            raise forms.ValidationError("Set the time zone in its own field above.")
        if key in ("first_name", "last_name", "phone"):
            raise forms.ValidationError(f"“{key}” is a field of its own, not an attribute.")
        if not key and (data.get("value") or "").strip():
            raise forms.ValidationError("Name the attribute this value is for.")
        data["key"] = key
        return data


AttributeFormSet = forms.formset_factory(AttributeForm, extra=2, can_delete=True, max_num=200)


def attributes_from(contact, own_time_zone: str, rows) -> dict:
    """The contact's attributes after the edit: the rows kept (later rows
    win a clash), plus the own time zone."""
    attributes = {}
    for row in rows:
        data = row.cleaned_data
        if data.get("key") and not data.get("DELETE"):
            attributes[data["key"]] = (data.get("value") or "").strip()
    if own_time_zone:
        attributes[OWN_TIME_ZONE] = own_time_zone
    return attributes


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
    """One condition of a segment. The widgets follow the field chosen: its
    own tests, the attribute names contacts have, and a value box that fits
    (a date, a choice, country codes); the builder re-renders a row when its
    field or test changes."""

    # Callables: apps above contacts register fields once they are loaded.
    field = forms.ChoiceField(
        choices=lambda: [("", "Choose…"), *segments.field_choices()],
        required=False,
        label="About",
    )
    op = forms.ChoiceField(
        choices=lambda: [("", "—"), *segments.op_choices()], required=False, label="Test"
    )
    key = forms.CharField(max_length=60, required=False, label="Attribute")
    value = forms.CharField(max_length=500, required=False)

    def __init__(self, *args, attribute_names=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.chosen_field = self._current("field")
        ops = segments.ops_for(self.chosen_field)
        op = self._current("op")
        if ops and op not in dict(ops):
            op = ops[0][0]
            self.initial["op"] = op
        self.chosen_op = op
        self.fields["op"].widget.choices = ops or [("", "—")]
        for name in ("field", "op"):
            self.fields[name].widget.attrs["data-builder-refresh"] = ""
        names = list(attribute_names or [])
        key = self._current("key")
        if key and key not in names:
            names.insert(0, key)
        self.fields["key"].widget = forms.Select(
            choices=[("", "Choose an attribute…"), *((n, n) for n in names)]
        )
        self.value_input = segments.value_input(self.chosen_field, op)
        self.fields["value"].widget = self._value_widget(self._current("value"))

    def _current(self, name: str) -> str:
        if self.is_bound:
            return str(self.data.get(self.add_prefix(name), "") or "")
        return str(self.initial.get(name, "") or "")

    def _value_widget(self, value: str):
        spec = self.value_input
        attrs = {"placeholder": spec.placeholder} if spec.placeholder else {}
        if spec.kind == "choice":
            choices = list(spec.choices)
            if value and value not in dict(choices):
                label = self._known_value_label(value)
                if label:
                    choices.insert(0, (value, label))
            return forms.Select(choices=choices)
        if spec.kind == "date":
            return forms.DateInput(attrs={**attrs, "type": "date"})
        if spec.kind == "countries":
            return forms.TextInput(attrs={**attrs, "list": "segment-countries"})
        if spec.suggestions:
            attrs["list"] = f"{self.prefix}-suggestions"
        return forms.TextInput(attrs=attrs)

    def _known_value_label(self, value: str) -> str:
        """The label of a stored value the choices leave out (a campaign
        that is not among the newest), or "" when it is not a valid one."""
        return segments.value_label(self.chosen_field, value)

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


class BaseConditionFormSet(forms.BaseFormSet):
    def __init__(self, *args, attribute_names=None, **kwargs):
        self.attribute_names = attribute_names
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "attribute_names": self.attribute_names}

    def conditions(self) -> list[dict]:
        """The conditions of a valid formset, rows without a field left out."""
        return [f.cleaned_data["condition"] for f in self if f.cleaned_data.get("condition")]


ConditionFormSet = forms.formset_factory(
    ConditionForm, formset=BaseConditionFormSet, extra=0, max_num=20, absolute_max=20
)
MAX_CONDITIONS = 20


def condition_rows(data, prefix: str = "cond") -> list[dict]:
    """The condition rows as posted, in order (whatever they hold)."""
    try:
        total = min(int(data.get(f"{prefix}-TOTAL_FORMS", 0)), MAX_CONDITIONS)
    except (TypeError, ValueError):
        total = 0
    return [
        {name: str(data.get(f"{prefix}-{i}-{name}", "") or "") for name in CONDITION_KEYS}
        for i in range(total)
    ]


CONDITION_KEYS = ("field", "op", "key", "value")


def change_rows(rows: list[dict], action: str) -> list[dict]:
    """The rows after a builder action: "add" a condition, "remove-N" the
    Nth (from 0), or "refresh" (a field or test changed)."""
    rows = [dict(row) for row in rows]
    if action == "add" and len(rows) < MAX_CONDITIONS:
        rows.append(dict.fromkeys(CONDITION_KEYS, ""))
    elif action.startswith("remove-") and action[7:].isdigit():
        index = int(action[7:])
        if 0 <= index < len(rows):
            rows.pop(index)
    for row in rows:
        ops = dict(segments.ops_for(row["field"]))
        if row["op"] not in ops:
            row["op"] = next(iter(ops), "")
        if row["field"] != "attribute":
            row["key"] = ""
        spec = segments.value_input(row["field"], row["op"])
        if spec.kind == "none":
            row["value"] = ""
        elif (
            spec.kind == "choice"
            and row["value"] not in dict(spec.choices)
            and not segments.value_label(row["field"], row["value"])
        ):
            # What the choice shows is what is counted.
            row["value"] = spec.choices[0][0] if spec.choices else ""
    return rows or [dict.fromkeys(CONDITION_KEYS, "")]
