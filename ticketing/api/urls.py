"""The public booking API, mounted at /api/v1/ by ticketing.urls."""

from django.urls import path

from . import self_service, views

app_name = "booking-api"

urlpatterns = [
    path("attractions/", views.AttractionListView.as_view(), name="attractions"),
    path("attractions/<str:slug>/", views.AttractionDetailView.as_view(), name="attraction"),
    path(
        "attractions/<str:slug>/ticket-types/",
        views.TicketTypeListView.as_view(),
        name="ticket-types",
    ),
    path(
        "attractions/<str:slug>/availability/",
        views.AvailabilityView.as_view(),
        name="availability",
    ),
    path("attractions/<str:slug>/slots/", views.SlotListView.as_view(), name="slots"),
    path("orders/", views.OrderCreateView.as_view(), name="orders"),
    path("orders/<str:code>/", views.OrderStatusView.as_view(), name="order"),
    path("orders/<str:code>/payment/", views.OrderPaymentView.as_view(), name="order-payment"),
    path(
        "orders/<str:code>/options/", self_service.OrderOptionsView.as_view(), name="order-options"
    ),
    path(
        "orders/<str:code>/give-back/", self_service.GiveBackView.as_view(), name="order-give-back"
    ),
    path("orders/<str:code>/cancel/", self_service.CancelView.as_view(), name="order-cancel"),
    path("orders/<str:code>/change/", self_service.ChangeView.as_view(), name="order-change"),
    path(
        "orders/<str:code>/change/give-up/",
        self_service.GiveUpChangeView.as_view(),
        name="order-change-give-up",
    ),
    path(
        "orders/<str:code>/tickets.pdf", views.OrderTicketsPdfView.as_view(), name="order-tickets"
    ),
]
