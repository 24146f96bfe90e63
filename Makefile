# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test install system-deps lint format bench clean cluster-test

$(PY):
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Reinstall whenever pyproject.toml changes.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

install: $(STAMP)

# Debian packages the tests read PDFs, QR codes and pages with, the CJK font e-tickets embed, and
# the nginx the cluster test puts in front of its web nodes, and the OpenSSH server the
# reconciliation SFTP test starts; installed only when missing.
system-deps:
	@command -v chromium >/dev/null && command -v zbarimg >/dev/null && command -v pdftoppm >/dev/null \
	  && test -f /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf && test -x /usr/sbin/nginx \
	  && test -x /usr/sbin/sshd \
	  || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium zbar-tools poppler-utils fonts-droid-fallback nginx openssh-server >/dev/null; } \
	  || echo "warning: chromium / zbar-tools / poppler-utils / fonts-droid-fallback / nginx / openssh-server missing; some tests will skip"

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo
	$(PY) manage.py serve --host $(HOST) --port $(PORT)

test: install system-deps
	$(PY) -m pytest $(PYTEST_ARGS)

# Two web and two task nodes on PostgreSQL (127.0.0.1:5432) and a Redis of its own, behind nginx,
# with nodes killed and Redis restarted mid-traffic (tests/cluster/run_cluster.py). Bounded: the
# script stops itself well inside this limit.
cluster-test: install system-deps
	timeout 570 $(PY) tests/cluster/run_cluster.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install
	$(PY) bench/protocol.py

clean:
	rm -rf var .pytest_cache
