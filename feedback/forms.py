"""
The respondent's form, one page at a time.

Each page's form cleans to plain JSON-ready data, which is kept in the session
as the draft until the respondent sends it from the check-your-answers page.
"""

import copy
import re

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Layout
from django import forms
from django.core.exceptions import ValidationError

from .models import (
    NOT_KNOWN,
    Element,
    Level,
    OrganisationType,
    Principle,
    Region,
    Role,
    View,
    answerable,
)
from .questions import CURRENT_VERSION, question

MAX_VIEWS = 20

# Control characters other than tab, newline and carriage return have no
# place in typed text and break exports and emails further down the line.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def reject_control_characters(value: str) -> None:
    if CONTROL_CHARACTERS.search(value):
        raise ValidationError(
            "Remove the hidden control characters from this answer: they often come from copying and pasting.",
            code="control_characters",
        )


class SharedChoices:
    """
    A choice field whose every copy shares its choices, and its widget's.
    Each form deep-copies its fields, and copying the choices (which the
    portal never changes per form) was most of the time it took to build one.
    What a form may change is still its own: the field's attributes, error
    messages and validators, and the widget's HTML attributes.
    """

    def __deepcopy__(self, memo: dict):
        field = copy.copy(self)
        memo[id(self)] = field
        field.widget = copy.copy(self.widget)
        field.widget.attrs = self.widget.attrs.copy()
        field.error_messages = self.error_messages.copy()
        field.validators = self.validators[:]
        return field


class ChoiceField(SharedChoices, forms.ChoiceField):
    pass


class MultipleChoiceField(SharedChoices, forms.MultipleChoiceField):
    pass


class PortalForm(forms.Form):
    """Shared behaviour: the NHS.UK template pack and clean text."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        # Every question on a page in bold, radios and text boxes alike.
        self.helper.label_class = "nhsuk-label--s"
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        for field in self.fields.values():
            if isinstance(field, forms.CharField) and not isinstance(field, forms.UUIDField):
                field.validators.append(reject_control_characters)

    def draft_data(self) -> dict:
        """What goes into the session draft."""
        return dict(self.cleaned_data)


class HoneypotForm(PortalForm):
    """A form with a field people never see: bots that fill in every input give themselves away."""

    website = forms.CharField(
        required=False,
        label="Leave this field empty",
        widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The page template renders it inside a hidden wrapper, apart from the rest.
        self.helper.layout = Layout(*(name for name in self.fields if name != "website"))

    def clean_website(self) -> str:
        if self.cleaned_data.get("website"):
            raise ValidationError("Leave this field empty", code="honeypot")
        return ""

    def draft_data(self) -> dict:
        return {name: value for name, value in self.cleaned_data.items() if name != "website"}


class AboutYouForm(HoneypotForm):
    name = forms.CharField(
        label="Your name",
        max_length=200,
        required=False,
        help_text="Leave this empty if you would rather stay anonymous.",
        widget=forms.TextInput(attrs={"autocomplete": "name", "spellcheck": "false"}),
    )
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        required=False,
        help_text="We will send you a receipt with your reference number. We use it for nothing else "
        "unless you agree to be contacted.",
        error_messages={"invalid": "Enter an email address in the correct format, like name@example.nhs.uk"},
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
    )
    role = ChoiceField(
        label="Your role",
        choices=answerable(Role),
        widget=forms.RadioSelect,
        error_messages={"required": "Select your role", "invalid_choice": "Select your role from the list"},
    )
    organisation = forms.CharField(
        label="Your organisation",
        max_length=200,
        required=False,
        help_text="For example, the name of your trust, practice, council or group. "
        "Leave this empty if you are not part of one.",
        widget=forms.TextInput(attrs={"autocomplete": "organization"}),
    )
    on_behalf_of_organisation = forms.BooleanField(
        label="I am responding on behalf of my organisation",
        help_text="Tick this only if your organisation has agreed this response. Otherwise we read it as your own.",
        required=False,
    )
    organisation_type = ChoiceField(
        label="Type of organisation",
        choices=[("", "Select a type")] + answerable(OrganisationType),
        error_messages={
            "required": "Select the type of organisation",
            "invalid_choice": "Select the type of organisation from the list",
        },
    )
    region = ChoiceField(
        label="Region",
        help_text="The strategic health authority area you work in, or national if your view is not about one region.",
        choices=answerable(Region),
        widget=forms.RadioSelect,
        error_messages={"required": "Select a region", "invalid_choice": "Select a region from the list"},
    )

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("on_behalf_of_organisation") and not cleaned.get("organisation", "").strip():
            self.add_error("organisation", "Enter the name of the organisation you are responding for")
        return cleaned


class SenderForm(AboutYouForm):
    """
    Who sent a view by email or in a spreadsheet: the form's questions, except
    that nobody ticked anything, so each of them may be "Not known".
    """

    LABELS = {
        "name": "Name",
        "email": "Email address",
        "role": "Role",
        "organisation": "Organisation",
        "organisation_type": "Type of organisation",
        "region": "Region",
        "on_behalf_of_organisation": "Sent on behalf of their organisation",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["website"]
        self.helper.layout = Layout(*self.fields)
        for name, label in self.LABELS.items():
            self.fields[name].label = label
            self.fields[name].help_text = ""
        for name, choices in (("role", Role), ("organisation_type", OrganisationType), ("region", Region)):
            self.fields[name].choices = choices.choices
            self.fields[name].initial = NOT_KNOWN
            self.fields[name].widget = forms.Select(choices=choices.choices)
        self.fields["organisation"].required = False


ELEMENT_ERRORS = {
    "required": "Select which part of the challenge this view is about",
    "invalid_choice": "Select one of the four parts of the challenge",
}


class ElementForm(PortalForm):
    """The first page of a view: which part of the challenge it is about (each part asks its own question next)."""

    element = ChoiceField(
        label="Which part of the challenge is your view about?",
        choices=Element.choices,
        widget=forms.RadioSelect,
        error_messages=ELEMENT_ERRORS,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["element"].label_as_heading = True
        self.fields["element"].option_hints = {element.value: element.description for element in Element}


class ViewForm(PortalForm):
    """
    One view. Given `element`, it is that element's question page: the
    element is fixed, the view's box asks the element's question (current
    wording) and the level is asked only about prioritisation. Without it
    (checking a draft again, sorting mail) every field is open.
    """

    element = ChoiceField(
        label="Which part of the challenge is this view about?",
        choices=Element.choices,
        widget=forms.RadioSelect,
        error_messages=ELEMENT_ERRORS,
    )
    level = ChoiceField(
        label="If your view is on prioritisation: where should this be done?",
        help_text="Answer this only for a view on prioritisation by level.",
        choices=Level.choices,
        widget=forms.RadioSelect,
        required=False,
        error_messages={"invalid_choice": "Select where this should be done from the list"},
    )
    text = forms.CharField(
        label="Your view",
        max_length=View._meta.get_field("text").max_length,
        widget=forms.Textarea(attrs={"rows": 8}),
        error_messages={"required": "Enter your view"},
    )
    example = forms.CharField(
        label="An example of practice that already works",
        help_text="Where it happens, what it does, and any saving or gain in quality it has brought, "
        "in your own words. Leave this empty if you have none.",
        max_length=View._meta.get_field("example").max_length,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
    )

    def __init__(self, data=None, *args, element: str | None = None, **kwargs):
        if element is not None and data is not None:
            data = data.copy()
            data["element"] = element  # the page's element, whatever the request says
        super().__init__(data, *args, **kwargs)
        # Required for prioritisation views only, so never labelled "(optional)".
        self.fields["level"].conditionally_required = True
        if element is None:
            return
        self.order_fields(["element", "text", "level", "example"])
        self.fields["element"].widget = forms.HiddenInput()
        self.fields["element"].initial = element
        asked = question(element)
        self.fields["text"].label = asked.text
        self.fields["text"].help_text = asked.hint
        self.fields["text"].label_as_heading = True
        if element == Element.PRIORITISATION:
            self.fields["level"].label = "Where would this be best organised?"
            self.fields["level"].help_text = ""
        else:
            del self.fields["level"]

    def draft_data(self) -> dict:
        """The view as the draft keeps it, with the wording of the question it answered."""
        return {**self.cleaned_data, "question_version": CURRENT_VERSION}

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("element") == Element.PRIORITISATION:
            if not cleaned.get("level"):
                self.add_error("level", "Select where this would be best organised")
        else:
            # A level only means something for prioritisation; one chosen and
            # then left behind when the element changed is dropped.
            cleaned["level"] = ""
        return cleaned


class AddAnotherForm(PortalForm):
    add_another = ChoiceField(
        label="Do you want to add another view?",
        choices=[("yes", "Yes"), ("no", "No")],
        widget=forms.RadioSelect,
        error_messages={"required": "Select yes if you want to add another view"},
    )

    def __init__(self, *args, can_add: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if not can_add:
            self.fields["add_another"].required = False
            self.fields["add_another"].widget = forms.HiddenInput()
            self.fields["add_another"].initial = "no"


class PermissionsForm(HoneypotForm):
    principles = MultipleChoiceField(
        label="Which working principles does your submission touch on?",
        help_text="Select all that apply, or none.",
        choices=Principle.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        error_messages={"invalid_choice": "Select principles from the list"},
    )
    consent_to_quote = forms.BooleanField(
        label="You may quote my views in reports, without my name or organisation",
        required=False,
    )
    consent_to_share = forms.BooleanField(
        label="You may share my views in full with the team writing the operating framework",
        help_text="They work in the Department of Health and will not publish them. "
        "This is separate from being quoted.",
        required=False,
    )
    consent_to_contact = forms.BooleanField(
        label="You may contact me about my views",
        help_text="We will use the email address you gave.",
        required=False,
    )

    def __init__(self, *args, email: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean_consent_to_contact(self) -> bool:
        consent = self.cleaned_data["consent_to_contact"]
        if consent and not self.email:
            raise ValidationError(
                "Give an email address in 'About you' so we can contact you, or leave this unticked",
                code="no_email",
            )
        return consent


class LinkEmailForm(PortalForm):
    """Where to send a link to answers saved for later."""

    email = forms.EmailField(
        label="Email address",
        max_length=254,
        help_text="We will send a link to your answers here. It works once, for 28 days.",
        error_messages={
            "required": "Enter the email address to send the link to",
            "invalid": "Enter an email address in the correct format, like name@example.nhs.uk",
        },
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
    )

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()


class SendForm(HoneypotForm):
    """The check-your-answers page's button: the one-time token and the honeypot."""

    token = forms.UUIDField(widget=forms.HiddenInput)
