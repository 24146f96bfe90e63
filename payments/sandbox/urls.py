"""Sandbox URLs: the gateway, the buyer's wallet, the QR pay page and the reconciliation files."""

from django.urls import path

from . import files_views, gateway, wallet

app_name = "sandbox"
urlpatterns = [
    path("gateway.do", gateway.gateway, name="gateway"),
    path("wallet/", wallet.wallet, name="wallet"),
    path("wallet/trades/<int:trade_id>/", wallet.buyer_action, name="buyer-action"),
    path("qr/<str:token>/", wallet.qr_pay, name="qr"),
    path("files/<str:kind>/", files_views.download, name="files"),
]
