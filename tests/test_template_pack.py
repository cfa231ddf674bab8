"""
The `nhsuk` crispy-forms template pack, the error summary and the page layout
render the NHS.UK design system's markup, so the accessibility it was designed
with comes with it.
"""

import re

import pytest
from crispy_forms.helper import FormHelper
from crispy_forms.layout import Layout, Submit
from django import forms
from django.core.exceptions import ValidationError
from django.template import Context, RequestContext, Template
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.test.html import Element, parse_html
from pytest_django.asserts import assertHTMLEqual, assertInHTML

# --- Forms to render ---------------------------------------------------------


class PageForm(forms.Form):
    """One field of every kind the portal's pages use, set up as its pages set up theirs."""

    name = forms.CharField(
        label="Your name",
        max_length=200,
        required=False,
        help_text="Leave this empty to stay anonymous.",
        widget=forms.TextInput(
            attrs={"class": "nhsuk-input--width-20", "autocomplete": "name", "spellcheck": "false"}
        ),
    )
    email = forms.EmailField(label="Email address", widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    role = forms.ChoiceField(
        label="Your role",
        choices=[("clinician", "Clinician"), ("manager", "Manager"), ("other", "Other")],
        widget=forms.RadioSelect,
        help_text="Choose the closest.",
        error_messages={"required": "Select your role"},
    )
    level = forms.ChoiceField(
        label="Where should this be done?",
        choices=[("national", "Nationally"), ("local", "Locally")],
        widget=forms.RadioSelect,
        required=False,
    )
    organisation_type = forms.ChoiceField(
        label="Type of organisation",
        choices=[("", "Select a type"), ("trust", "Trust"), ("practice", "Practice")],
        error_messages={"required": "Select the type of organisation"},
    )
    principles = forms.MultipleChoiceField(
        label="Which principles does your view touch on?",
        choices=[("quality", "Quality"), ("prevention", "Prevention")],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Select all that apply.",
    )
    text = forms.CharField(label="Your view", max_length=300, widget=forms.Textarea)
    consent_to_contact = forms.BooleanField(
        label="You may contact me about my views",
        help_text="We will use the email address you gave.",
        required=False,
    )
    token = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True


class NotesForm(forms.Form):
    notes = forms.CharField(label="Notes", required=False, widget=forms.Textarea)


class ConsentForm(forms.Form):
    agree = forms.BooleanField(label="I agree", error_messages={"required": "Tick the box to agree"})

    def clean(self):
        raise ValidationError("These answers have already been sent")


class ViewForm(forms.Form):
    element = forms.ChoiceField(
        label="Which part of the challenge is this view about?",
        choices=[("quality", "Quality"), ("innovation", "Innovation")],
        widget=forms.RadioSelect,
        error_messages={"required": "Select which part of the challenge this view is about"},
    )
    text = forms.CharField(label="Your view", error_messages={"required": "Enter your view"})


ViewFormSet = forms.formset_factory(ViewForm, extra=0, min_num=1, validate_min=True, max_num=2, validate_max=True)

VALID = {
    "email": "someone@example.nhs.uk",
    "role": "manager",
    "organisation_type": "trust",
    "text": "Share discharge letters sooner.",
    "token": "abc",
}


# --- Helpers -----------------------------------------------------------------


def crispy(form: forms.Form) -> str:
    return Template("{% load crispy_forms_tags %}{% crispy form %}").render(Context({"form": form}))


def summary(*forms_or_formsets) -> str:
    names = [f"item{number}" for number in range(len(forms_or_formsets))]
    source = "{% load nhsuk %}{% error_summary " + " ".join(names) + " %}"
    return Template(source).render(Context(dict(zip(names, forms_or_formsets, strict=True))))


def elements(html: str) -> list[Element]:
    found = []

    def walk(node):
        if isinstance(node, Element):
            if node.name is not None:
                found.append(node)
            for child in node.children:
                walk(child)

    walk(parse_html(html))
    return found


def attrs(element: Element) -> dict:
    return dict(element.attributes)


def classes(element: Element) -> set[str]:
    return set((attrs(element).get("class") or "").split())


def text(element: Element) -> str:
    parts = []

    def walk(node):
        if isinstance(node, str):
            parts.append(node)
        else:
            for child in node.children:
                walk(child)

    walk(element)
    return " ".join(" ".join(parts).split())


def by_id(html: str, element_id: str) -> Element:
    matches = [element for element in elements(html) if attrs(element).get("id") == element_id]
    assert len(matches) == 1, f"expected one element with id {element_id!r}, found {len(matches)}"
    return matches[0]


def tagged(html: str, tag: str, /, **wanted) -> list[Element]:
    """Elements of this tag with these attributes; `for_` stands for `for`."""
    wanted = {key.rstrip("_").replace("_", "-"): value for key, value in wanted.items()}
    return [
        element
        for element in elements(html)
        if element.name == tag and all(attrs(element).get(key) == value for key, value in wanted.items())
    ]


def group_of(html: str, element_id: str) -> Element:
    """The nhsuk-form-group that holds the element with this id."""
    groups = [element for element in elements(html) if "nhsuk-form-group" in classes(element)]
    holding = [
        group for group in groups if any(attrs(inner).get("id") == element_id for inner in elements(str(group)))
    ]
    assert len(holding) == 1
    return holding[0]


def summary_links(html: str) -> list[tuple[str, str]]:
    return [(attrs(link)["href"], text(link)) for link in tagged(html, "a")]


# --- Text inputs, selects and textareas --------------------------------------


def test_it_renders_a_text_input_with_its_label_hint_and_widget_attributes():
    html = crispy(PageForm())

    label = tagged(html, "label", for_="id_name")[0]
    assert classes(label) == {"nhsuk-label"}
    assert text(label) == "Your name (optional)"
    hint = by_id(html, "id_name-hint")
    assert classes(hint) == {"nhsuk-hint"}
    assert text(hint) == "Leave this empty to stay anonymous."
    field = by_id(html, "id_name")
    assert classes(field) == {"nhsuk-input", "nhsuk-input--width-20"}
    assert attrs(field)["aria-describedby"] == "id_name-hint"
    assert attrs(field)["autocomplete"] == "name"
    assert attrs(field)["spellcheck"] == "false"
    assert attrs(field)["maxlength"] == "200"
    assert classes(group_of(html, "id_name")) == {"nhsuk-form-group"}


def test_it_gives_an_input_without_a_hint_or_error_no_aria_describedby():
    html = crispy(PageForm())

    email = by_id(html, "id_email")
    assert attrs(email)["type"] == "email"
    assert classes(email) == {"nhsuk-input"}
    assert "aria-describedby" not in attrs(email)


def test_it_marks_a_field_with_an_error_as_the_design_system_does():
    html = crispy(PageForm(data={**VALID, "name": "x" * 201}))

    assert classes(group_of(html, "id_name")) == {"nhsuk-form-group", "nhsuk-form-group--error"}
    assert classes(by_id(html, "id_name")) == {"nhsuk-input", "nhsuk-input--width-20", "nhsuk-input--error"}
    assert attrs(by_id(html, "id_name"))["aria-describedby"] == "id_name-hint id_name-error"
    assertInHTML(
        '<span class="nhsuk-error-message" id="id_name-error"><span class="nhsuk-u-visually-hidden">Error:</span>'
        " Ensure this value has at most 200 characters (it has 201).</span>",
        html,
    )


def test_it_puts_the_hint_before_the_error_message_and_both_before_the_input():
    html = crispy(PageForm(data={**VALID, "name": "x" * 201}))

    assert html.index('id="id_name-hint"') < html.index('id="id_name-error"') < html.index('id="id_name"')


def test_it_renders_a_select_with_the_design_system_classes():
    html = crispy(PageForm(data={**VALID, "organisation_type": ""}))

    select = by_id(html, "id_organisation_type")
    assert select.name == "select"
    assert classes(select) == {"nhsuk-select", "nhsuk-select--error"}
    assert attrs(select)["aria-describedby"] == "id_organisation_type-error"
    assert text(tagged(html, "label", for_="id_organisation_type")[0]) == "Type of organisation"


def test_it_renders_a_textarea_with_a_maximum_length_as_a_character_count():
    html = crispy(PageForm())

    group = group_of(html, "id_text")
    assert classes(group) == {"nhsuk-form-group", "nhsuk-character-count"}
    assert attrs(group)["data-module"] == "nhsuk-character-count"
    assert attrs(group)["data-maxlength"] == "300"
    textarea = by_id(html, "id_text")
    assert textarea.name == "textarea"
    assert classes(textarea) == {"nhsuk-textarea", "nhsuk-js-character-count"}
    assert attrs(textarea)["aria-describedby"] == "id_text-info"
    # The count, not the browser, tells people how much to remove.
    assert "maxlength" not in attrs(textarea)
    message = by_id(html, "id_text-info")
    assert classes(message) == {"nhsuk-hint", "nhsuk-character-count__message"}
    assert text(message) == "You can enter up to 300 characters"


def test_it_marks_a_character_count_with_an_error():
    html = crispy(PageForm(data={**VALID, "text": "x" * 301}))

    assert classes(group_of(html, "id_text")) == {
        "nhsuk-form-group",
        "nhsuk-form-group--error",
        "nhsuk-character-count",
    }
    textarea = by_id(html, "id_text")
    assert "nhsuk-textarea--error" in classes(textarea)
    assert attrs(textarea)["aria-describedby"] == "id_text-info id_text-error"


def test_it_renders_a_textarea_without_a_maximum_length_as_a_plain_textarea():
    html = crispy(NotesForm())

    assert classes(group_of(html, "id_notes")) == {"nhsuk-form-group"}
    assert classes(by_id(html, "id_notes")) == {"nhsuk-textarea"}
    assert "You can enter up to" not in html


def test_it_renders_a_hidden_input_on_its_own():
    html = crispy(PageForm(initial={"token": "abc"}))

    token = by_id(html, "id_token")
    assert attrs(token)["type"] == "hidden"
    assert attrs(token)["value"] == "abc"
    assert not tagged(html, "label", for_="id_token")
    assert "Token" not in html


# --- Radios and checkboxes ---------------------------------------------------


def test_it_renders_radios_in_a_fieldset_whose_legend_is_the_label():
    html = crispy(PageForm(data={**VALID, "role": "manager"}))

    group = group_of(html, "id_role_0")
    fieldset = tagged(str(group), "fieldset")[0]
    assert classes(fieldset) == {"nhsuk-fieldset"}
    assert attrs(fieldset)["aria-describedby"] == "id_role-hint"
    legend = tagged(str(fieldset), "legend")[0]
    assert classes(legend) == {"nhsuk-fieldset__legend", "nhsuk-fieldset__legend--s"}
    assert text(legend) == "Your role"
    assert text(by_id(html, "id_role-hint")) == "Choose the closest."
    radios = [element for element in elements(str(fieldset)) if "nhsuk-radios" in classes(element)][0]
    assert attrs(radios)["data-module"] == "nhsuk-radios"
    items = [element for element in elements(str(radios)) if "nhsuk-radios__item" in classes(element)]
    assert len(items) == 3
    inputs = tagged(str(radios), "input")
    assert [attrs(radio)["id"] for radio in inputs] == ["id_role_0", "id_role_1", "id_role_2"]
    assert all(classes(radio) == {"nhsuk-radios__input"} for radio in inputs)
    assert ["checked" in attrs(radio) for radio in inputs] == [False, True, False]
    label = tagged(str(radios), "label", for_="id_role_1")[0]
    assert classes(label) == {"nhsuk-label", "nhsuk-radios__label"}
    assert text(label) == "Manager"


def test_it_describes_radios_with_an_error_through_their_fieldset():
    html = crispy(PageForm(data={**VALID, "role": ""}))

    group = group_of(html, "id_role_0")
    assert "nhsuk-form-group--error" in classes(group)
    assert attrs(tagged(str(group), "fieldset")[0])["aria-describedby"] == "id_role-hint id_role-error"
    assertInHTML(
        '<span class="nhsuk-error-message" id="id_role-error">'
        '<span class="nhsuk-u-visually-hidden">Error:</span> Select your role</span>',
        html,
    )


def test_it_renders_checkboxes_in_a_fieldset_and_keeps_the_ones_ticked():
    html = crispy(PageForm(data={**VALID, "principles": ["prevention"]}))

    group = group_of(html, "id_principles_0")
    legend = tagged(str(group), "legend")[0]
    assert text(legend) == "Which principles does your view touch on? (optional)"
    container = [element for element in elements(str(group)) if "nhsuk-checkboxes" in classes(element)][0]
    assert attrs(container)["data-module"] == "nhsuk-checkboxes"
    boxes = tagged(str(container), "input")
    assert [attrs(box)["id"] for box in boxes] == ["id_principles_0", "id_principles_1"]
    assert all(classes(box) == {"nhsuk-checkboxes__input"} for box in boxes)
    assert ["checked" in attrs(box) for box in boxes] == [False, True]
    assert classes(tagged(str(container), "label", for_="id_principles_0")[0]) == {
        "nhsuk-label",
        "nhsuk-checkboxes__label",
    }


def test_it_renders_a_single_checkbox_with_its_label_and_the_hint_below_it():
    html = crispy(PageForm())

    group = group_of(html, "id_consent_to_contact")
    assert not tagged(str(group), "fieldset")
    box = by_id(html, "id_consent_to_contact")
    assert classes(box) == {"nhsuk-checkboxes__input"}
    assert attrs(box)["aria-describedby"] == "id_consent_to_contact-hint"
    label = tagged(str(group), "label", for_="id_consent_to_contact")[0]
    assert classes(label) == {"nhsuk-label", "nhsuk-checkboxes__label"}
    assert text(label) == "You may contact me about my views"
    hint = by_id(html, "id_consent_to_contact-hint")
    assert classes(hint) == {"nhsuk-hint", "nhsuk-checkboxes__hint"}
    assert str(group).index('for="id_consent_to_contact"') < str(group).index('id="id_consent_to_contact-hint"')


def test_it_marks_a_single_checkbox_with_an_error():
    html = crispy(ConsentForm(data={}))

    assert classes(group_of(html, "id_agree")) == {"nhsuk-form-group", "nhsuk-form-group--error"}
    assert attrs(by_id(html, "id_agree"))["aria-describedby"] == "id_agree-error"
    assert text(by_id(html, "id_agree-error")) == "Error: Tick the box to agree"


def test_it_appends_optional_to_the_labels_and_legends_of_optional_fields_only():
    html = crispy(PageForm())

    assert text(tagged(html, "label", for_="id_name")[0]) == "Your name (optional)"
    assert text(tagged(html, "label", for_="id_email")[0]) == "Email address"
    legends = {text(legend) for legend in tagged(html, "legend")}
    assert "Where should this be done? (optional)" in legends
    assert "Your role" in legends
    assert text(tagged(html, "label", for_="id_consent_to_contact")[0]) == "You may contact me about my views"
    assert "(required)" not in html


# --- Escaping ----------------------------------------------------------------


class EchoForm(forms.Form):
    reference = forms.CharField(label="Reference")

    def clean_reference(self):
        raise ValidationError("%(value)s is not a reference", params={"value": self.cleaned_data["reference"]})


def test_it_escapes_markup_in_a_submitted_value():
    data = {**VALID, "name": "<script>alert(1)</script>", "text": "</textarea><script>x</script>"}
    html = crispy(PageForm(data=data))

    assert "<script>" not in html
    assert attrs(by_id(html, "id_name"))["value"] == "<script>alert(1)</script>"
    assert "&lt;/textarea&gt;&lt;script&gt;x&lt;/script&gt;" in html


def test_it_escapes_markup_in_an_error_message_at_the_field_and_in_the_summary():
    form = EchoForm(data={"reference": '<img src=x onerror="alert(1)">'})
    html = crispy(form) + summary(form)

    assert "<img" not in html
    assert html.count("&lt;img src=x onerror=&quot;alert(1)&quot;&gt; is not a reference") == 2


# --- The error summary -------------------------------------------------------


def test_it_renders_the_error_summary_as_the_design_system_does():
    html = summary(ConsentForm(data={"agree": "on"}))

    assertHTMLEqual(
        html,
        """
        <div class="nhsuk-error-summary" data-module="nhsuk-error-summary">
          <div role="alert">
            <h2 class="nhsuk-error-summary__heading">There is a problem</h2>
            <div class="nhsuk-error-summary__body">
              <ul class="nhsuk-list nhsuk-error-summary__list">
                <li>These answers have already been sent</li>
              </ul>
            </div>
          </div>
        </div>
        """,
    )


def test_it_links_each_error_in_the_summary_to_its_field():
    html = summary(PageForm(data={"name": "x" * 201, "text": ""}))

    assert summary_links(html) == [
        ("#id_name", "Ensure this value has at most 200 characters (it has 201)."),
        ("#id_email", "This field is required."),
        ("#id_role_0", "Select your role"),
        ("#id_organisation_type", "Select the type of organisation"),
        ("#id_text", "This field is required."),
    ]


def test_it_links_checkbox_groups_and_single_checkboxes_to_their_first_input():
    form = PageForm(data={**VALID, "principles": ["nonsense"], "consent_to_contact": "on"})
    form.is_valid()
    form.add_error("consent_to_contact", "Give an email address so we can contact you")

    assert summary_links(summary(form)) == [
        ("#id_principles_0", "Select a valid choice. nonsense is not one of the available choices."),
        ("#id_consent_to_contact", "Give an email address so we can contact you"),
    ]


def test_it_lists_errors_about_the_whole_form_first_without_a_link():
    html = summary(ConsentForm(data={}))

    items = tagged(html, "li")
    assert [text(item) for item in items] == ["These answers have already been sent", "Tick the box to agree"]
    assert not tagged(str(items[0]), "a")
    assert summary_links(html) == [("#id_agree", "Tick the box to agree")]


def test_it_shows_errors_about_the_whole_form_only_in_the_summary():
    form = ConsentForm(data={"agree": "on"})

    assert "These answers have already been sent" not in crispy(form)
    assert "These answers have already been sent" in summary(form)


def test_it_renders_nothing_when_there_are_no_errors():
    assert summary(PageForm(data=VALID)).strip() == ""
    assert summary(PageForm()).strip() == ""


def test_it_summarises_a_formset_with_its_own_errors_first_then_each_forms():
    formset = ViewFormSet(
        data={
            "form-TOTAL_FORMS": "3",
            "form-INITIAL_FORMS": "0",
            "form-0-element": "quality",
            "form-0-text": "",
            "form-1-element": "",
            "form-1-text": "Fine",
            "form-2-element": "quality",
            "form-2-text": "Fine",
        }
    )
    html = summary(formset)

    assert [text(item) for item in tagged(html, "li")][0] == "Please submit at most 2 forms."
    assert summary_links(html) == [
        ("#id_form-0-text", "Enter your view"),
        ("#id_form-1-element_0", "Select which part of the challenge this view is about"),
    ]


def test_it_summarises_several_forms_in_one_list():
    html = summary(ConsentForm(data={}), PageForm(data={**VALID, "email": ""}))

    assert len(tagged(html, "ul")) == 1
    assert summary_links(html) == [("#id_agree", "Tick the box to agree"), ("#id_email", "This field is required.")]


# --- Ways of rendering -------------------------------------------------------


def test_it_renders_a_single_field_the_same_way_as_the_whole_form_does():
    form = PageForm(data={**VALID, "role": ""})
    alone = Template("{% load crispy_forms_filters %}{{ form.role|as_crispy_field }}").render(Context({"form": form}))

    assertInHTML(alone, crispy(form))
    assert 'id="id_role-error"' in alone


def test_it_renders_the_whole_form_through_the_crispy_filter():
    form = NotesForm()
    html = Template("{% load crispy_forms_filters %}{{ form|crispy }}").render(Context({"form": form}))

    assert classes(by_id(html, "id_notes")) == {"nhsuk-textarea"}
    assert not tagged(html, "form")


def test_it_leaves_the_form_tag_and_csrf_token_to_the_page_when_the_helper_says_so():
    html = crispy(PageForm())

    assert not tagged(html, "form")
    assert "csrfmiddlewaretoken" not in html


def test_it_writes_the_form_tag_csrf_token_and_buttons_when_the_helper_asks():
    form = NotesForm()
    form.helper = FormHelper()
    form.helper.form_action = "/notes/"
    form.helper.add_input(Submit("submit", "Save and continue"))
    request = RequestFactory().get("/")
    html = Template("{% load crispy_forms_tags %}{% crispy form %}").render(RequestContext(request, {"form": form}))

    form_tag = tagged(html, "form")[0]
    assert attrs(form_tag)["action"] == "/notes/"
    assert attrs(form_tag)["method"] == "post"
    assert "novalidate" in attrs(form_tag)
    assert tagged(html, "input", name="csrfmiddlewaretoken")
    button = tagged(html, "button")[0]
    assert classes(button) == {"nhsuk-button"}
    assert attrs(button)["type"] == "submit"
    assert text(button) == "Save and continue"


def test_it_renders_only_the_fields_a_helper_layout_names():
    form = PageForm()
    form.helper.layout = Layout("email", "role")
    html = crispy(form)

    assert by_id(html, "id_email")
    assert by_id(html, "id_role_0")
    assert 'id="id_name"' not in html


# --- Page layout -------------------------------------------------------------


@pytest.mark.urls("tests.urls_for_pack")
def test_every_page_has_the_nhs_header_skip_link_main_and_footer(client):
    response = client.get("/no-such-page/", secure=True)
    html = response.content.decode()

    assert response.status_code == 404
    assert '<html lang="en">' in html
    assert "<title>Page not found - QIPP challenge feedback - NHS</title>" in html
    assert tagged(html, "link", rel="stylesheet", href="/static/css/portal.css")
    assert tagged(html, "link", rel="icon", href="/static/nhsuk/assets/images/favicon.ico", sizes="48x48")
    skip = tagged(html, "a", href="#maincontent")[0]
    assert classes(skip) == {"nhsuk-skip-link"}
    assert html.index("nhsuk-skip-link") < html.index("<header")
    header = tagged(html, "header")[0]
    assert classes(header) == {"nhsuk-header"}
    assert attrs(header)["role"] == "banner"
    home = tagged(str(header), "a", href="/")[0]
    assert classes(home) == {"nhsuk-header__service-logo"}
    assert text(home) == "NHS QIPP challenge feedback"
    assert not tagged(str(header), "nav")
    assert not tagged(str(header), "search")
    main = by_id(html, "maincontent")
    assert main.name == "main"
    assert classes(main) == {"nhsuk-main-wrapper"}
    assert attrs(main)["role"] == "main"
    assert text(tagged(html, "h1")[0]) == "Page not found"
    footer = tagged(html, "footer")[0]
    assert [(attrs(link)["href"], text(link)) for link in tagged(str(footer), "a")] == [
        ("/privacy/", "Privacy"),
        ("/accessibility/", "Accessibility statement"),
    ]
    assert "© Crown copyright" in text(footer)


@pytest.mark.urls("tests.urls_for_pack")
def test_its_scripts_carry_the_nonce_the_content_security_policy_allows(client):
    response = client.get("/no-such-page/", secure=True)
    html = response.content.decode()

    nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"]).group(1)
    scripts = tagged(html, "script")
    assert len(scripts) == 2
    assert all(attrs(script)["nonce"] == nonce for script in scripts)
    assert "js-enabled" in text(scripts[0])
    assert attrs(scripts[1])["type"] == "module"
    assert 'import { initAll } from "/static/nhsuk/nhsuk-frontend.min.js"; initAll()' in text(scripts[1])


@pytest.mark.urls("tests.urls_for_pack")
def test_its_pages_have_no_inline_styles_or_event_handlers_for_the_policy_to_block(client):
    html = client.get("/no-such-page/", secure=True).content.decode()

    assert not tagged(html, "style")
    assert not any("style" in attrs(element) for element in elements(html))
    assert not any(name.startswith("on") for element in elements(html) for name in attrs(element))


@pytest.mark.urls("tests.urls_for_pack")
def test_the_500_page_renders_without_a_request_or_scripts():
    html = render_to_string("500.html")

    assert "<title>Sorry, there is a problem with the service - QIPP challenge feedback - NHS</title>" in html
    assert not tagged(html, "script")
    assert "None" not in html
    assert tagged(html, "header")
    assert tagged(html, "a", href="/")


@pytest.mark.urls("tests.urls_for_pack")
def test_the_too_many_attempts_page_says_the_answers_are_kept_and_links_back_to_them(rf):
    html = render_to_string("429.html", request=rf.get("/"))

    assert text(tagged(html, "h1")[0]) == "Too many attempts"
    assert "kept in this browser" in html
    assert tagged(html, "a", href="/give-views/check/")


@pytest.mark.urls("tests.urls_for_pack")
def test_a_form_sent_without_a_valid_csrf_token_gets_a_page_offering_to_start_again(client):
    client.handler.enforce_csrf_checks = True
    response = client.post("/privacy/", secure=True)
    html = response.content.decode()

    assert response.status_code == 403
    assert text(tagged(html, "h1")[0]) == "Your answers could not be sent"
    assert "cookies" in html
    assert text(tagged(html, "a", href="/")[-1]) == "Start again"


def test_an_empty_form_renders_the_same_remembered_as_when_first_rendered():
    from django.template import Context, Template

    from feedback.forms import AboutYouForm, ViewForm

    crispy = Template("{% load crispy_forms_tags %}{% crispy form %}")
    remembered = Template("{% load nhsuk %}{% nhsuk_form form %}")
    for form_class in (AboutYouForm, ViewForm):
        expected = crispy.render(Context({"form": form_class()}))
        assert remembered.render(Context({"form": form_class()})) == expected
        assert remembered.render(Context({"form": form_class()})) == expected, "the second time, from memory"


def test_a_form_with_answers_is_never_served_from_memory():
    from django.template import Context, Template

    from feedback.forms import AboutYouForm

    remembered = Template("{% load nhsuk %}{% nhsuk_form form %}")
    remembered.render(Context({"form": AboutYouForm()}))
    answered = remembered.render(Context({"form": AboutYouForm(initial={"organisation": "Northfield PCT"})}))
    assert 'value="Northfield PCT"' in answered
    posted = remembered.render(Context({"form": AboutYouForm({"organisation": "Southfield PCT"})}))
    assert 'value="Southfield PCT"' in posted
