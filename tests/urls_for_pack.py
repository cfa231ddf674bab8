"""The url names base.html and the error pages link to, for rendering them on their own."""

from django.http import HttpResponse
from django.urls import path


def _page(request):
    return HttpResponse("")


urlpatterns = [
    path("", _page, name="start"),
    path("privacy/", _page, name="privacy"),
    path("accessibility/", _page, name="accessibility"),
    path("give-views/check/", _page, name="give_views_check"),
]
