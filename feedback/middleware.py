"""Requests refused before any view sees them."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def refuse_nul_in_query(get_response):
    """
    Middleware: answer 400 to a query string holding a NUL character. No page
    has a use for one, and PostgreSQL refuses it in any text it is given, so
    a filter or search carrying one would otherwise end in a server error.
    Forms catch NUL in what they are sent, with an error beside the field.
    """

    def middleware(request: HttpRequest) -> HttpResponse:
        if any("\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists()):
            return render(request, "400.html", status=400)
        return get_response(request)

    return middleware
