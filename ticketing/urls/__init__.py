"""The root URLconf (ROOT_URLCONF): it only mounts each area's own urls module.

Each area names its routes inside its namespace, so `reverse("box_office:pay", ...)` says where
the page lives. The area modules next to this one (`shop`, `box_office`, `gate`) hold the pages;
the APIs and the ticket keys keep their urls in their own packages.
"""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("payments/", include("payments.urls")),
    path("api/v1/", include("payments.api.urls")),
    path("api/v1/", include("ticketing.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("tickets/", include("ticketing.etickets.urls")),
    path("gate/", include("ticketing.urls.gate")),
    path("box-office/", include("ticketing.urls.box_office")),
    path("", include("ticketing.urls.shop")),
]

if settings.SANDBOX_ENABLED:
    urlpatterns.append(path("sandbox/", include("payments.sandbox.urls")))
