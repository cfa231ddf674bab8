from django.urls import path

from . import views

urlpatterns = [
    path("", views.start, name="start"),
    path("privacy/", views.privacy, name="privacy"),
    path("accessibility/", views.accessibility, name="accessibility"),
    path("what-we-did/", views.outcomes_page, name="outcomes"),
    path("give-views/about-you/", views.about_you, name="give_views_about_you"),
    path("give-views/your-views/", views.views_list, name="give_views_views"),
    path("give-views/your-views/add/", views.add_view, name="give_views_add_view"),
    path("give-views/your-views/add/<slug:element>/", views.answer, name="give_views_answer"),
    path("give-views/your-views/<int:number>/", views.edit_view, name="give_views_edit_view"),
    path("give-views/your-views/<int:number>/element/", views.change_element, name="give_views_change_element"),
    path("give-views/your-views/<int:number>/remove/", views.remove_view, name="give_views_remove_view"),
    path("give-views/permissions/", views.permissions, name="give_views_permissions"),
    path("give-views/check-your-answers/", views.check_answers, name="give_views_check"),
    path("give-views/received/<uuid:token>/", views.received, name="give_views_received"),
    path("give-views/save/", views.save_for_later, name="give_views_save"),
    path("give-views/resume/", views.ask_for_link, name="give_views_ask_for_link"),
    path("give-views/resume/<str:token>/", views.resume_answers, name="give_views_resume"),
    path("your-submission/", views.own_submission, name="own_submission"),
    path("your-submission/views/<int:number>/", views.own_change_view, name="own_change_view"),
    path("your-submission/withdraw/", views.own_withdraw, name="own_withdraw"),
    path("your-submission/<str:signed>/", views.own_submission_link, name="own_submission_link"),
]
