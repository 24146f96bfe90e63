"""The online shop's pages, mounted at the site root by ticketing.urls."""

from django.urls import path

from ticketing.views import checkout, lookup, self_service, shop

app_name = "shop"

urlpatterns = [
    path("", shop.home, name="home"),
    path("attractions/<slug:slug>/", shop.attraction, name="attraction"),
    path("attractions/<slug:slug>/slots/<int:slot_id>/", shop.tickets, name="tickets"),
    path("orders/find/", lookup.lookup, name="lookup"),
    path("orders/<str:code>/", checkout.confirmation, name="confirmation"),
    path("orders/<str:code>/review/", checkout.review, name="review"),
    path("orders/<str:code>/pay/", checkout.pay, name="pay"),
    path("orders/<str:code>/status/", checkout.status, name="status"),
    path("orders/<str:code>/tickets.pdf", checkout.tickets_pdf, name="tickets_pdf"),
    path("orders/<str:code>/give-back/", self_service.give_back, name="give_back"),
    path("orders/<str:code>/cancel/", self_service.cancel, name="cancel"),
    path("orders/<str:code>/change/", self_service.change, name="change"),
    path("orders/<str:code>/change/pay/", self_service.change_pay, name="change_pay"),
    path("orders/<str:code>/change/status/", self_service.change_status, name="change_status"),
    path("orders/<str:code>/change/give-up/", self_service.give_up_change, name="give_up_change"),
]
