"""gunicorn configuration for an Entrada web node: `gunicorn -c deploy/gunicorn.conf.py`.

Read by the systemd unit (deploy/systemd/entrada-web.service) and by the cluster test
(tests/cluster/run_cluster.py), so the test runs the web nodes the way production does. The
application is named here too, so that changing the served entry point touches one file.
Every value can be overridden from the environment file.
"""

import multiprocessing
import os

# ASGI, as `manage.py serve`: gunicorn manages uvicorn workers, so that a partner API long poll
# (`?wait=`, up to 30 s) is an awaited event, not a held thread.
wsgi_app = os.environ.get("GUNICORN_APP", "ticketing.asgi:application")
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "uvicorn_worker.UvicornWorker")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
# Above the longest legitimate request: a 30 s long poll, or a gateway exchange bounded by
# ALIPAY_CONNECT_TIMEOUT + ALIPAY_READ_TIMEOUT (20 s by default).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# A stop or reload lets requests in progress finish (a pay call waiting for Alipay) first.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
# nginx keeps upstream connections open (keepalive in the site); idle ones must outlive its
# keepalive_timeout on that side, or a request can be sent on a connection gunicorn just closed.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "75"))
backlog = int(os.environ.get("GUNICORN_BACKLOG", "2048"))
# Recycle workers now and then so that no slow leak lives for weeks; the jitter keeps them from
# restarting all at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "20000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "2000"))
# The address nginx connects from: only it may set X-Forwarded-Proto and X-Forwarded-For for the
# worker. Django reads the scheme through SECURE_PROXY_SSL_HEADER and takes the client address
# from X-Forwarded-For itself, by TRUSTED_PROXIES.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None  # empty: no access log
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
proc_name = "entrada-web"
# gunicorn 27's control socket lives at one path per user ($HOME/.gunicorn/gunicorn.ctl), so two
# nodes on one host would take each other's; nothing here uses it (systemd signals the master).
# Older gunicorn ignores the name.
control_socket_disable = True
