"""A root urlconf serving only the sandbox: `ENTRADA_ROOT_URLCONF=payments.sandbox.site_urls`.

For a stand-alone Alipay stand-in (a staging box several Entrada sites point at): the same views
and tables, without the shop, the admin or the partner API.
"""

from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="sandbox:wallet", permanent=False)),
    path("i18n/", include("django.conf.urls.i18n")),
    path("sandbox/", include("payments.sandbox.urls")),
]
