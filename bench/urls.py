"""The portal's URLs, and the ceiling views the benchmark compares them with (load runs only)."""

from django.urls import path

from qipp_portal.urls import urlpatterns as portal

from . import ceilings

urlpatterns = [
    path("ceiling/page/", ceilings.page),
    path("ceiling/insert/", ceilings.insert),
    *portal,
]
