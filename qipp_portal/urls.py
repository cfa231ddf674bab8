from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "QIPP challenge feedback: policy team"
admin.site.site_title = "QIPP feedback admin"
admin.site.index_title = "Workspace"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("feedback.urls")),
]
