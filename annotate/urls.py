from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from annotate import health, metrics, spa

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/", include("labeling.api.urls")),
    path("api/", include("rewardtrain.suggestions.urls")),
    path("api/", include("rewardtrain.snapshots.urls")),
    path("api/", include("rewardtrain.runs.urls")),
    path("api/", include("rewardtrain.generation.urls")),
    path("api/", include("labeling.auditlog.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    # The browser app: `/` and its client routes; never the API, the admin, static files or the probes.
    re_path(
        r"^(?!api/|api$|admin/|admin$|static/|healthz|readyz|metrics$)(?P<path>.*)$",
        spa.spa_index,
        name="spa",
    ),
]

# Under /api/, a request Django refuses before any view runs (a body over the limit, no such route, a crash)
# gets the API error shape.
handler400 = "labeling.api.errors.bad_request"
handler404 = "labeling.api.errors.not_found"
handler500 = "labeling.api.errors.server_error"
