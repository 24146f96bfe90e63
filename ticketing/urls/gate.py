"""The gate's pages, mounted at /gate/ by ticketing.urls."""

from django.urls import path

from ticketing.views import gate

app_name = "gate"

urlpatterns = [
    path("", gate.check_in, name="check_in"),
    path("login/", gate.login, name="login"),
]
