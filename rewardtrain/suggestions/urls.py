from django.urls import path

from rewardtrain.suggestions import api

urlpatterns = [
    path(
        "assignments/<int:assignment_id>/suggestion/",
        api.SuggestionView.as_view(),
        name="assignment-suggestion",
    ),
]
