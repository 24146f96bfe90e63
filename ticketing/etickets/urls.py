"""Mounted at /tickets/ (ticketing/urls/__init__.py): what gates fetch to verify tickets offline."""

from django.urls import path

from . import views

app_name = "etickets"

urlpatterns = [
    path("public-key", views.public_key, name="public-key"),
    path("public-key.pem", views.public_key_pem_view, name="public-key-pem"),
    path("revoked", views.revoked, name="revoked"),
]
