# TLS 1.3 + MQTT for MicroPython: host-side entry points.
#   make setup   create .venv, install pinned Python packages and the Debian packages the tests use
#   make test    setup, then the whole suite (CPython + the MicroPython VM)
#   make bench   crypto benchmarks on both runtimes (not part of the tests)

VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(VENV)/bin/pip
STAMP   := $(VENV)/.setup-stamp
APT_PKGS := mosquitto mosquitto-clients openssl gnutls-bin socat

.PHONY: setup test test-fast bench clean

setup: $(STAMP) apt
.PHONY: apt

$(STAMP): requirements-dev.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --disable-pip-version-check -r requirements-dev.txt
	$(PIP) install -q --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

# Installs only what is missing, so a second run costs a dpkg query.
apt:
	@missing=""; for p in $(APT_PKGS); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

test: setup
	$(PY) -m pytest -n 2 -q tests

test-fast: setup
	$(PY) -m pytest -q -x tests -m "not slow"

bench: setup
	$(PY) host_tools/bench_crypto.py

clean:
	rm -rf build .pytest_cache
