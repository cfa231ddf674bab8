"""
NHS.UK design system markup for Django forms.

`{% error_summary %}` lists every error on a page at the top of it, each
linked to the input it is about. `{% nhsuk_field %}` works out what the
`nhsuk` crispy-forms template pack (templates/nhsuk/) needs to render one
field, and `{% nhsuk_form %}` renders a whole form through the pack. The
markup itself lives in the templates, where everything is autoescaped:
labels, hints, error messages and submitted values alike.
"""

from dataclasses import dataclass, field
from typing import Any

from crispy_forms.layout import BaseInput
from crispy_forms.templatetags.crispy_forms_tags import CrispyFormNode
from django import forms, template
from django.forms.boundfield import BoundField
from django.forms.formsets import BaseFormSet
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

register = template.Library()


# --- Error summary -----------------------------------------------------------


@dataclass(frozen=True)
class SummaryError:
    message: str
    # Fragment of the input to move to; empty for an error about the whole
    # form, or about a field the respondent cannot see.
    href: str = ""


def _link_to(bound_field: BoundField) -> str:
    if bound_field.is_hidden:
        return ""
    if isinstance(bound_field.field.widget, forms.RadioSelect):
        # Radios and checkboxes: the design system links to the first option
        # (Django gives its group label no target at all).
        subwidgets = bound_field.subwidgets
        target = subwidgets[0].id_for_label if subwidgets else ""
    else:
        target = bound_field.id_for_label
    return f"#{target}" if target else ""


def _form_errors(form: forms.BaseForm) -> list[SummaryError]:
    errors = [SummaryError(message) for message in form.non_field_errors()]
    for bound_field in form:
        if bound_field.errors:
            # The field shows one message at a time; the summary matches it.
            errors.append(SummaryError(bound_field.errors[0], _link_to(bound_field)))
    return errors


def summary_errors(*forms_or_formsets: Any) -> list[SummaryError]:
    """Every error of the given forms and formsets, in the order the page shows them."""
    errors = []
    for item in forms_or_formsets:
        if isinstance(item, BaseFormSet):
            errors.extend(SummaryError(message) for message in item.non_form_errors())
            for form in item.forms:
                errors.extend(_form_errors(form))
        elif isinstance(item, forms.BaseForm):
            errors.extend(_form_errors(item))
    return errors


@register.inclusion_tag("nhsuk/error_summary.html")
def error_summary(*forms_or_formsets: Any) -> dict:
    """
    `{% error_summary form %}`, `{% error_summary formset %}` or several at
    once. Renders nothing when none of them has an error; arguments missing
    from the context are ignored.
    """
    return {"errors": summary_errors(*forms_or_formsets)}


# --- Fields for the template pack --------------------------------------------


@dataclass(frozen=True)
class Option:
    id: str
    label: str
    tag: SafeString
    hint: str = ""
    hint_id: str = ""


@dataclass
class NhsukField:
    """What templates/nhsuk/field.html and its includes render one field from."""

    kind: str  # hidden, input, textarea, select, radios, checkboxes or checkbox
    id: str
    label: str
    optional: bool
    hint: str
    hint_id: str
    error: str
    error_id: str
    label_classes: str
    legend_classes: str
    group_classes: str
    # Classes the widget was given that belong on the radios or checkboxes
    # container, such as nhsuk-radios--inline.
    container_classes: str = ""
    # The page's heading is this field's question (NHS.UK: one question a page, the label as the h1).
    heading: bool = False
    maxlength: int | None = None
    info_id: str = ""
    describedby: str = ""
    control: SafeString = SafeString("")
    options: list[Option] = field(default_factory=list)


def _kind(widget: forms.Widget) -> str:
    # CheckboxSelectMultiple is a RadioSelect subclass: test it first.
    if widget.is_hidden:
        return "hidden"
    if isinstance(widget, forms.CheckboxSelectMultiple):
        return "checkboxes"
    if isinstance(widget, forms.RadioSelect):
        return "radios"
    if isinstance(widget, forms.CheckboxInput):
        return "checkbox"
    if isinstance(widget, forms.Select):
        return "select"
    if isinstance(widget, forms.Textarea):
        return "textarea"
    return "input"


def _join(*parts: str) -> str:
    return " ".join(part for part in parts if part)


def _options(bound_field: BoundField, input_class: str) -> list[Option]:
    options = []
    # A field may describe its options (`option_hints`, by value): each hint sits under its option's label.
    hints = getattr(bound_field.field, "option_hints", {})
    for subwidget in bound_field.subwidgets:
        # Each option inherits the widget's attributes; its class is the
        # design system's, and the widget's own class goes on the container.
        attrs = {**subwidget.data["attrs"], "class": input_class}
        option_id = subwidget.id_for_label or ""
        hint = hints.get(subwidget.data["value"], "")
        hint_id = f"{option_id}-hint" if hint and option_id else ""
        if hint_id:
            attrs["aria-describedby"] = hint_id
        options.append(
            Option(
                id=option_id,
                label=subwidget.choice_label,
                tag=_input_tag(subwidget.data, attrs),
                hint=hint,
                hint_id=hint_id,
            )
        )
    return options


def _input_tag(data: dict, attrs: dict) -> SafeString:
    """
    One radio or checkbox, as Django's input widget template writes it. A form
    page has dozens, and rendering a template for each one was most of the
    time it took to show one.
    """
    value = data["value"]
    return format_html(
        '<input type="{}" name="{}"{}{}>',
        data["type"],
        data["name"],
        format_html(' value="{}"', value) if value is not None else "",
        format_html_join(
            "",
            " {}{}",
            (
                (name, "" if value is True else format_html('="{}"', value))
                for name, value in attrs.items()
                if value is not False
            ),
        ),
    )


@register.simple_tag(takes_context=True)
def nhsuk_field(context: template.Context, bound_field: BoundField) -> NhsukField:
    """`{% nhsuk_field field as f %}`: the pieces of one field's NHS.UK markup."""
    widget = bound_field.field.widget
    kind = _kind(widget)
    base_id = widget.attrs.get("id") or bound_field.auto_id or ""
    show_errors = context.get("form_show_errors", True) is not False
    show_labels = context.get("form_show_labels", True) is not False
    error = bound_field.errors[0] if show_errors and bound_field.errors else ""
    hint = bound_field.help_text or ""
    widget_classes = widget.attrs.get("class", "")
    visually_hidden = "" if show_labels else "nhsuk-u-visually-hidden"
    spec = NhsukField(
        kind=kind,
        id=bound_field.id_for_label or "",
        label=bound_field.label or "",
        # A field required only in some cases (say, after a particular answer
        # elsewhere) sets `conditionally_required` so it is not called optional.
        optional=not bound_field.field.required
        and kind not in ("checkbox", "hidden")
        and not getattr(bound_field.field, "conditionally_required", False),
        hint=hint,
        hint_id=f"{base_id}-hint" if base_id and hint else "",
        error=error,
        error_id=f"{base_id}-error" if base_id and error else "",
        label_classes=_join("nhsuk-label", context.get("label_class") or "", visually_hidden),
        legend_classes=_join("nhsuk-fieldset__legend nhsuk-fieldset__legend--s", visually_hidden),
        group_classes=_join("nhsuk-form-group", "nhsuk-form-group--error" if error else ""),
    )
    if getattr(bound_field.field, "label_as_heading", False):
        spec.heading = True
        spec.label_classes = _join("nhsuk-label nhsuk-label--l", visually_hidden)
        spec.legend_classes = _join("nhsuk-fieldset__legend nhsuk-fieldset__legend--l", visually_hidden)
    wrapper_class = context.get("wrapper_class") or ""

    if kind == "hidden":
        spec.control = bound_field.as_widget()
        return spec

    if kind in ("radios", "checkboxes"):
        spec.group_classes = _join(spec.group_classes, wrapper_class)
        spec.container_classes = widget_classes
        # Radios and checkboxes are described through their fieldset.
        spec.describedby = _join(spec.hint_id, spec.error_id)
        spec.options = _options(bound_field, f"nhsuk-{kind}__input")
        return spec

    own_describedby = widget.attrs.get("aria-describedby", "")
    attrs: dict[str, Any] = {}
    if kind == "checkbox":
        spec.container_classes = widget_classes
        # The hint sits under the checkbox's label, after the error message.
        spec.describedby = _join(own_describedby, spec.error_id, spec.hint_id)
        attrs["class"] = "nhsuk-checkboxes__input"
    else:
        base_class = {"input": "nhsuk-input", "textarea": "nhsuk-textarea", "select": "nhsuk-select"}[kind]
        max_length = getattr(bound_field.field, "max_length", None)
        if kind == "textarea" and max_length and base_id:
            spec.maxlength = max_length
            spec.info_id = f"{base_id}-info"
            spec.group_classes = _join(spec.group_classes, "nhsuk-character-count")
            # Without a maxlength attribute the browser does not cut pasted
            # text short: the count (or, without JavaScript, the server) says
            # how much to remove instead.
            attrs["maxlength"] = False
        spec.describedby = _join(own_describedby, spec.info_id, spec.hint_id, spec.error_id)
        attrs["class"] = _join(
            base_class,
            "nhsuk-js-character-count" if spec.maxlength else "",
            widget_classes,
            f"{base_class}--error" if error else "",
        )
    spec.group_classes = _join(spec.group_classes, wrapper_class)
    if spec.describedby:
        attrs["aria-describedby"] = spec.describedby
    spec.control = bound_field.as_widget(attrs=attrs)
    return spec


# Forms rendered before anyone answered them, by what they are made of.
_EMPTY_FORMS: dict[tuple, SafeString] = {}
_CRISPY = CrispyFormNode("form", None)


def _shape(form: forms.BaseForm) -> tuple:
    """Everything an empty form's markup is made from: its class and each field's set-up."""
    return (
        type(form),
        form.prefix,
        tuple(
            (
                name,
                type(field.widget),
                field.required,
                field.label,
                field.help_text,
                repr(field.initial),
                repr(field.widget.attrs),
                getattr(field, "conditionally_required", False),
                getattr(field, "label_as_heading", False),
                repr(getattr(field, "option_hints", None)),
            )
            for name, field in form.fields.items()
        ),
    )


@register.simple_tag(takes_context=True)
def nhsuk_form(context: template.Context, form: forms.BaseForm) -> SafeString:
    """
    `{% crispy form %}`, rendered once per process for a form that holds no
    answers yet (the first visit to a page): its markup is the same for every
    respondent. Rendering the radios of a form page through templates took
    ten times as long as the rest of the request.
    """
    if form.is_bound or form.initial:
        return _render_crispy(context, form)
    key = _shape(form)
    if key not in _EMPTY_FORMS:
        _EMPTY_FORMS[key] = _render_crispy(context, form)
    return _EMPTY_FORMS[key]


def _render_crispy(context: template.Context, form: forms.BaseForm) -> SafeString:
    with context.push(form=form):
        return _CRISPY.render(context)


_BUTTON_CLASSES = {
    "submit": "nhsuk-button",
    "button": "nhsuk-button nhsuk-button--secondary",
    "reset": "nhsuk-button nhsuk-button--secondary",
}


@register.filter
def nhsuk_button_classes(button: BaseInput) -> str:
    """The design system's classes for a crispy-forms Submit, Button or Reset, plus any css_class it was given."""
    # crispy-forms prefixes css_class with its Bootstrap defaults; keep only
    # what the layout asked for.
    extra = button.field_classes.removeprefix(type(button).field_classes)
    return _join(_BUTTON_CLASSES.get(button.input_type, "nhsuk-button"), extra.strip())
