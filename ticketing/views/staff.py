"""What every staff page shares: a sign-in of its own (no admin access needed), throttled against
guessing, and access for one group (and superusers) only."""

from __future__ import annotations

import functools

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache

from .throttle import client_address, minutes_to_wait, sign_in_throttle


def in_group(user, name: str) -> bool:
    """An active member of the group `name`, or a superuser."""
    return bool(user.is_active and (user.is_superuser or user.groups.filter(name=name).exists()))


def staff_only(group: str, *, login_url):
    """Decorate a view: signed in (else `login_url`), in `group` (else 403), never cached."""

    def decorator(view):
        @functools.wraps(view)
        @never_cache
        @login_required(login_url=login_url)
        def wrapped(request, *args, **kwargs):
            if not in_group(request.user, group):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


class ThrottledLoginView(auth_views.LoginView):
    """Django's login, with failed sign-ins counted (`throttle.sign_in_throttle`): per account
    from the client's address, and per address. Past a limit even the right password waits, or
    guessing would simply go on. Every staff sign-in uses it: the staff pages and the admin.
    """

    def _throttle(self):
        username = self.request.POST.get("username", "")[:150]
        return sign_in_throttle(client_address(self.request), username)

    def post(self, request, *args, **kwargs):
        wait = self._throttle().retry_after()
        if not wait:
            return super().post(request, *args, **kwargs)
        minutes = minutes_to_wait(wait)
        message = ngettext(
            "Too many unsuccessful sign-ins. Please wait %(minutes)d minute and try again.",
            "Too many unsuccessful sign-ins. Please wait %(minutes)d minutes and try again.",
            minutes,
        ) % {"minutes": minutes}
        context = self.get_context_data(form=self.get_form_class()(request), limited=message)
        response = self.render_to_response(context, status=429)
        response["Retry-After"] = str(wait)
        return response

    def form_invalid(self, form):
        self._throttle().record_failure()
        return super().form_invalid(form)


class StaffLoginView(ThrottledLoginView):
    """The sign-in of the staff pages, with its own page so that staff (gate, box office) need
    no admin (is_staff) access; each staff page mounts it with its own `title` and `next_page`.
    """

    template_name = "staff/login.html"
    redirect_authenticated_user = True
    title = ""

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "title": self.title}


def may_approve(supervisor, request) -> bool:
    """A refund needs a second person: the supervisor who approves is not the signed-in cashier
    who asks, or one supervisor alone could refund whatever they like."""
    return supervisor.pk != request.user.pk
