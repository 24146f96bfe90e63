"""The admin app with Entrada's admin site (ticketing/admin_site.py) as `admin.site`.

A module of its own: INSTALLED_APPS imports it before any model exists, so it names the site by
its dotted path and imports nothing else.
"""

from django.contrib.admin.apps import AdminConfig


class EntradaAdminConfig(AdminConfig):
    default_site = "ticketing.admin_site.EntradaAdminSite"
