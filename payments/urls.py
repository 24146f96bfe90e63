"""URLs of the payments app (mounted under /payments/)."""

from django.urls import path

from payments.health import poller_health
from payments.notifications import alipay_notify

app_name = "payments"
urlpatterns = [
    path("alipay/notify/", alipay_notify, name="alipay-notify"),
    path("health/poller", poller_health, name="poller-health"),
]
