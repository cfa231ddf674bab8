"""
The ceilings for the HTTP measures: what Django itself does for a page and for
a form that saves one row, with the portal's middleware and gunicorn
configuration, and none of the portal's own work. Routed by bench/urls.py only.
"""

from django import forms
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.utils.html import escape

SMALL_PAGE = (
    "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Ceiling</title></head>"
    "<body><main><h1>A small page</h1><p>{body}</p></main></body></html>"
)
TABLE = "bench_ceiling_row"
FIELDS = ["name", "email", "role", "organisation", "organisation_type", "region", "element", "text"]


def page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(SMALL_PAGE.format(body="Nothing but Django and the portal's middleware."))


class EightFields(forms.Form):
    name = forms.CharField(max_length=200, required=False)
    email = forms.EmailField(required=False)
    role = forms.CharField(max_length=40)
    organisation = forms.CharField(max_length=200)
    organisation_type = forms.CharField(max_length=40)
    region = forms.CharField(max_length=40)
    element = forms.CharField(max_length=40)
    text = forms.CharField(max_length=5000)


def insert(request: HttpRequest) -> HttpResponse:
    """GET: a form with its CSRF token. POST: validate the eight fields and insert one row."""
    if request.method == "POST":
        form = EightFields(request.POST)
        if form.is_valid():
            values = [form.cleaned_data[field] for field in FIELDS]
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {TABLE} ({', '.join(FIELDS)}) VALUES ({', '.join(['%s'] * len(FIELDS))})",  # noqa: S608
                    values,
                )
            return HttpResponseRedirect("/ceiling/page/")
        return HttpResponse(escape(form.errors.as_text()), status=400)
    token = get_token(request)
    return HttpResponse(
        SMALL_PAGE.format(body=f'<form method="post"><input name="csrfmiddlewaretoken" value="{token}"></form>')
    )


def create_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, "  # noqa: S608
            + ", ".join(f"{field} text NOT NULL" for field in FIELDS)
            + ", created_at timestamptz NOT NULL DEFAULT now())"
        )
