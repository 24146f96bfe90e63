"""Partner API routes, mounted at /api/v1/. Ids are matched as plain strings and parsed in the
views, so a malformed id is a JSON 404 like any unknown one."""

from django.urls import path

from payments.api import views

app_name = "partner_api"

urlpatterns = [
    path("payments/", views.PaymentCollectionView.as_view(), name="payments"),
    # Before "payments/<id>/", which would take "summary" for an id.
    path("payments/summary/", views.PaymentDaySummaryView.as_view(), name="payments-summary"),
    path("payments/<str:payment_id>/", views.PaymentDetailView.as_view(), name="payment"),
    path(
        "payments/<str:payment_id>/cancel/",
        views.PaymentCancelView.as_view(),
        name="payment-cancel",
    ),
    path(
        "payments/<str:payment_id>/refunds/",
        views.RefundCollectionView.as_view(),
        name="payment-refunds",
    ),
    path(
        "payments/<str:payment_id>/refunds/<str:refund_id>/",
        views.RefundDetailView.as_view(),
        name="payment-refund",
    ),
    path(
        "payments/<str:payment_id>/receipt.pdf",
        views.PaymentReceiptView.as_view(),
        name="payment-receipt",
    ),
]
