from django.http import HttpResponse
from django.urls import path


def page(request):
    return HttpResponse("<!DOCTYPE html><title>Bare</title><p>A bare Django project.</p>")


urlpatterns = [path("", page)]
