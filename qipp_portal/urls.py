from django.contrib import admin
from django.urls import include, path

from feedback import metrics, staff, subscriptions

urlpatterns = [
    path("staff/sign-in/", staff.sign_in, name="staff_sign_in"),
    path("staff/two-factor/", staff.verify, name="staff_two_factor"),
    path("staff/two-factor/set-up/", staff.set_up, name="staff_set_up_two_factor"),
    path("staff/two-factor/backup-codes/", staff.backup_codes, name="staff_backup_codes"),
    path("staff/password/<uidb64>/<token>/", staff.choose_password, name="staff_password_reset"),
    path("staff/weekly-summary/", admin.site.admin_view(subscriptions.subscription), name="weekly_subscription"),
    path("email/unsubscribe/<str:token>/", subscriptions.unsubscribe, name="weekly_unsubscribe"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("", include("feedback.urls")),
]
