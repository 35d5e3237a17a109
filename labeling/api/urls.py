from django.urls import path

from labeling.api.views import auth, dashboard, dialogues, projects, quality, review, tokens, work, workspace

urlpatterns = [
    path("auth/csrf", auth.CsrfView.as_view(), name="auth-csrf"),
    path("auth/login", auth.LoginView.as_view(), name="auth-login"),
    path("auth/logout", auth.LogoutView.as_view(), name="auth-logout"),
    path("auth/me", auth.MeView.as_view(), name="auth-me"),
    path("auth/unlock", auth.UnlockView.as_view(), name="auth-unlock"),
    path("tokens/", tokens.TokenListView.as_view(), name="token-list"),
    path("tokens/<int:token_id>/", tokens.TokenDetailView.as_view(), name="token-detail"),
    path("projects/", projects.ProjectListView.as_view(), name="project-list"),
    path("projects/<int:project_id>/", projects.ProjectDetailView.as_view(), name="project-detail"),
    path("projects/<int:project_id>/members/", projects.MemberListView.as_view(), name="member-list"),
    path(
        "projects/<int:project_id>/members/<int:member_id>/",
        projects.MemberDetailView.as_view(),
        name="member-detail",
    ),
    path(
        "projects/<int:project_id>/guidelines/", projects.GuidelineListView.as_view(), name="guideline-list"
    ),
    path(
        "projects/<int:project_id>/guidelines/current/",
        projects.GuidelineCurrentView.as_view(),
        name="guideline-current",
    ),
    path(
        "projects/<int:project_id>/guidelines/<int:version>/",
        projects.GuidelineVersionView.as_view(),
        name="guideline-version",
    ),
    path(
        "projects/<int:project_id>/guidelines/usage/",
        projects.GuidelineUsageView.as_view(),
        name="guideline-usage",
    ),
    path("projects/<int:project_id>/imports/", projects.ImportView.as_view(), name="import"),
    path("projects/<int:project_id>/agreement/", quality.AgreementView.as_view(), name="agreement"),
    path("projects/<int:project_id>/prompts/", projects.PromptListView.as_view(), name="prompt-list"),
    path("projects/<int:project_id>/tasks/", projects.TaskListView.as_view(), name="task-list"),
    path("projects/<int:project_id>/rankings/", projects.RankingListView.as_view(), name="ranking-list"),
    path(
        "projects/<int:project_id>/demonstrations/",
        projects.DemonstrationListView.as_view(),
        name="demonstration-list",
    ),
    path(
        "projects/<int:project_id>/dialogue-tasks/",
        dialogues.DialogueTasksView.as_view(),
        name="dialogue-tasks",
    ),
    path("projects/<int:project_id>/dialogues/", dialogues.DialogueListView.as_view(), name="dialogue-list"),
    path(
        "projects/<int:project_id>/assignments/next/",
        work.NextAssignmentView.as_view(),
        name="assignment-next",
    ),
    path("assignments/", work.AssignmentListView.as_view(), name="assignment-list"),
    path("assignments/<int:assignment_id>/", work.AssignmentDetailView.as_view(), name="assignment-detail"),
    path("assignments/<int:assignment_id>/submit/", work.SubmitView.as_view(), name="assignment-submit"),
    path("assignments/<int:assignment_id>/skip/", work.SkipView.as_view(), name="assignment-skip"),
    path("assignments/<int:assignment_id>/draft/", workspace.DraftView.as_view(), name="assignment-draft"),
    path(
        "assignments/<int:assignment_id>/annotation/",
        workspace.MyAnnotationView.as_view(),
        name="assignment-annotation",
    ),
    path("assignments/<int:assignment_id>/revise/", workspace.ReviseView.as_view(), name="assignment-revise"),
    path("projects/<int:project_id>/my-stats/", workspace.MyStatsView.as_view(), name="my-stats"),
    path("projects/<int:project_id>/dashboard/", dashboard.DashboardView.as_view(), name="dashboard"),
    path(
        "demonstrations/<int:demonstration_id>/review/",
        review.ReviewView.as_view(),
        name="demonstration-review",
    ),
    path("dialogues/<int:dialogue_id>/review/", review.DialogueReviewView.as_view(), name="dialogue-review"),
    path("reviews/<int:review_id>/undo/", review.ReviewUndoView.as_view(), name="review-undo"),
]
