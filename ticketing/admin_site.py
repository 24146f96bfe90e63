"""The admin site, branded for Entrada and signing in through the same throttled view as every
other staff page."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.decorators import login_not_required
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache


class EntradaAdminSite(admin.AdminSite):
    site_header = gettext_lazy("Entrada administration")
    site_title = gettext_lazy("Entrada admin")
    index_title = gettext_lazy("Tickets, payments and reports")
    # The app list beside every page took 300 px from the lists: at 1280 px the payments list
    # lost its amount and state to a scroll bar. The index and the breadcrumbs lead everywhere.
    enable_nav_sidebar = False
    login_template = "admin/throttled_login.html"

    @method_decorator(never_cache)
    @login_not_required
    def login(self, request, extra_context=None):
        """AdminSite.login with ThrottledLoginView in place of Django's LoginView (which the
        original imports inside the method, so it cannot be swapped any other way)."""
        # At sign-in, not at import: this module loads while the admin app is being set up
        # (its default_site), before forms and views that need the app registry may.
        from django.contrib.admin.forms import AdminAuthenticationForm
        from django.http import HttpResponseRedirect

        from ticketing.views.staff import ThrottledLoginView  # (same reason)

        if request.method == "GET" and self.has_permission(request):
            return HttpResponseRedirect(reverse("admin:index", current_app=self.name))
        context = {
            **self.each_context(request),
            "title": _("Log in"),
            "subtitle": None,
            "app_path": request.get_full_path(),
            "username": request.user.get_username(),
        }
        if REDIRECT_FIELD_NAME not in request.GET and REDIRECT_FIELD_NAME not in request.POST:
            context[REDIRECT_FIELD_NAME] = reverse("admin:index", current_app=self.name)
        context.update(extra_context or {})
        request.current_app = self.name
        return ThrottledLoginView.as_view(
            extra_context=context,
            authentication_form=self.login_form or AdminAuthenticationForm,
            template_name=self.login_template,
        )(request)
