from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict:
    return {"contact_email": settings.QIPP_CONTACT_EMAIL}
