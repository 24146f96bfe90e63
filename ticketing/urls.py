"""Top-level URLs. Each app owns its own urls module; this file only mounts them."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from ticketing.views import box_office, gate

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
    path("box-office/", box_office.sell, name="box-office"),
    path("box-office/login/", box_office.login, name="box-office-login"),
    path("box-office/sales/<str:code>/pay/", box_office.pay, name="box-office-pay"),
    path("box-office/sales/<str:code>/status/", box_office.status, name="box-office-status"),
    path("box-office/sales/<str:code>/cancel/", box_office.cancel_sale, name="box-office-cancel"),
    path("box-office/sales/<str:code>/receipt/", box_office.receipt, name="box-office-receipt"),
    path("box-office/sales/<str:code>/tickets.pdf", box_office.tickets_pdf, name="box-office-pdf"),
    path("box-office/orders/", box_office.find, name="box-office-find"),
    path("box-office/orders/<str:code>/", box_office.order_detail, name="box-office-order"),
    path("", include("ticketing.shop_urls")),
]

if settings.SANDBOX_ENABLED:
    urlpatterns.append(path("sandbox/", include("payments.sandbox.urls")))
