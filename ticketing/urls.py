"""Top-level URLs. Each app owns its own urls module; this file only mounts them."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from ticketing.views import gate

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("payments/", include("payments.urls")),
    path("api/v1/", include("payments.api.urls")),
    path("api/v1/", include("ticketing.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("tickets/", include("ticketing.etickets.urls")),
    path("gate/", gate.check_in, name="gate"),
    path("gate/login/", gate.login, name="gate-login"),
    path("", include("ticketing.shop_urls")),
]

if settings.SANDBOX_ENABLED:
    urlpatterns.append(path("sandbox/", include("payments.sandbox.urls")))
