"""URL patterns; filled in as the features land."""

urlpatterns: list = []
