"""A root urlconf serving only the sandbox: `ENTRADA_ROOT_URLCONF=payments.sandbox.site_urls`.

For a stand-alone Alipay stand-in (a staging box several Entrada sites point at): the same views
and tables, without the shop, the admin or the partner API. Error pages are plain text here: the
site's templates link to the shop, which this urlconf does not serve.
"""

from django.http import HttpResponseNotFound, HttpResponseServerError
from django.urls import include, path
from django.utils.translation import gettext as _
from django.views.generic import RedirectView


def not_found(request, exception=None):
    return HttpResponseNotFound(_("Not found."), content_type="text/plain; charset=utf-8")


def server_error(request):
    return HttpResponseServerError(_("Server error."), content_type="text/plain; charset=utf-8")


handler404 = not_found
handler500 = server_error

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="sandbox:wallet", permanent=False)),
    path("i18n/", include("django.conf.urls.i18n")),
    path("sandbox/", include("payments.sandbox.urls")),
]
