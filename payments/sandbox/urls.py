"""Sandbox URLs (filled in by the sandbox gateway work)."""

app_name = "sandbox"
urlpatterns: list = []
