# TLS 1.3 + MQTT for MicroPython: host-side entry points.
#   make setup   create .venv, install pinned Python packages and the Debian packages the tests use
#   make test    setup, then the whole suite (CPython + the MicroPython VM)
#   make bench   the benchmark suite: figures beside their anchors -> build/bench/{results.md,results.json,
#                handshake_heap.png} (not part of the tests; BENCH_ARGS="--rounds 5", "--quick", "--only tls,mqtt")
#   make bench-crypto   crypto primitives on both runtimes
#   make demo    setup, then mosquitto (TLS 1.3 + mTLS) and two emulated boards for DEMO_SECONDS (30)
#   make build BOARD=esp32                       .mpy files and firmware for a board into build/<board>
#   make deploy BOARD=esp32 PORT=/dev/ttyUSB0    build, copy to the board with mpremote, verify by hash
#                [CONFIG=config.json] [SECRETS=secrets.json] [PKI=build/pki] [DEVICE=device-001]
#                [DEPLOY_ARGS=--no-lib]  (boards flashed with firmware/manifest.py's frozen library)
#   make check   static checks only: ruff, lib/ + firmware/ against the esp32 and rp2 stubs (make test runs them too)

VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(VENV)/bin/pip
STAMP   := $(VENV)/.setup-stamp
APT_PKGS := mosquitto mosquitto-clients openssl gnutls-bin socat

.PHONY: setup test test-fast bench bench-crypto clean check demo build deploy

BOARD   ?= esp32
PORT    ?=
CONFIG  ?= config.json
SECRETS ?= secrets.json
PKI     ?= build/pki
DEVICE  ?= device-001
DEMO_ARGS ?=
DEPLOY_ARGS ?=
BENCH_ARGS ?=
BENCH_STAMP := $(VENV)/.bench-stamp

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

check: setup
	$(PY) -m host_tools.cli check

$(BENCH_STAMP): requirements-bench.txt $(STAMP)
	$(PIP) install -q --disable-pip-version-check -r requirements-bench.txt
	touch $(BENCH_STAMP)

bench: setup $(BENCH_STAMP)
	$(PY) host_tools/bench.py $(BENCH_ARGS)

bench-crypto: setup
	$(PY) host_tools/bench_crypto.py

demo: setup
	$(VENV)/bin/mptls demo $(DEMO_ARGS)

build: setup
	$(VENV)/bin/mptls build --board $(BOARD)

deploy: setup
	@test -n "$(PORT)" || { echo "usage: make deploy BOARD=esp32 PORT=/dev/ttyUSB0 [CONFIG=config.json] [SECRETS=secrets.json] [PKI=build/pki] [DEVICE=device-001]"; exit 2; }
	$(VENV)/bin/mptls deploy --board $(BOARD) --port $(PORT) --config $(CONFIG) \
	  $(if $(wildcard $(SECRETS)),--secrets $(SECRETS)) --pki $(PKI) --device $(DEVICE) --reset $(DEPLOY_ARGS)

clean:
	rm -rf build .pytest_cache
