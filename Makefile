# CareLedger: `make demo` runs the main job, `make test` the tests. Both set up what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NET := $(PY) -m careledger_network.cli

.PHONY: help setup fabric network-up network-down network-stop network-start network-status \
        chaincode-upgrade demo test test-unit lint check bench browser softhsm s3proxy chaos audit

help:
	@echo "make demo            set up, bring the network up, run the demo checks"
	@echo "make test            set up and run every test (starts or reuses the network)"
	@echo "make fabric          install Fabric v3.1.5 and Fabric CA v1.5.21 into FABRIC_HOME (~/.cache/careledger)"
	@echo "make network-up | network-stop | network-start | network-status | network-down"
	@echo "make chaincode-upgrade   redeploy the chaincode with the next sequence number"
	@echo "make bench           benchmarks against the running network (table, JSON and chart in results/)"
	@echo "make lint            ruff and mypy"
	@echo "make audit           pip-audit of requirements.lock (fails on a known vulnerability)"

$(VENV)/.installed: pyproject.toml gateway/pyproject.toml requirements.lock
	@echo "setting up $(VENV): the packages in requirements.lock, then CareLedger itself (editable)"
	@$(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/pip install --quiet --upgrade pip
	@$(VENV)/bin/pip install --quiet -r requirements.lock
	@# -qq: setuptools prints a page of notes on every editable install; errors still show.
	@$(VENV)/bin/pip install -qq --no-deps -e gateway -e .
	@touch $@

setup: $(VENV)/.installed

# Standard library only, so it runs before the virtualenv exists (README: 'Installing Fabric').
fabric:
	@PYTHONPATH=network $(PYTHON) -m careledger_network.install

network-up: setup fabric s3proxy
	@$(NET) up

network-down: setup
	@$(NET) down

network-stop: setup
	@$(NET) stop

network-start: setup s3proxy
	@$(NET) start

network-status: setup
	@$(NET) status

chaincode-upgrade: setup
	@$(NET) chaincode-upgrade

demo: network-up
	@$(PY) -m careledger_network.demo
	@$(PY) -m careledger_models.demo
	@$(NET) apps
	@$(PY) -m careledger_network.demo_users   # which URL is which app, who signs into which, with what passphrase

browser:
	@command -v chromium >/dev/null 2>&1 || { echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# SoftHSM: the PKCS#11 token the HSM signer is tested against.
softhsm:
	@command -v softhsm2-util >/dev/null 2>&1 || { echo "installing Debian's softhsm2 for the HSM signer tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq softhsm2 >/dev/null; }

# S3Proxy: the real S3 API server the replicated record-store tests run (a jar from Maven Central, cached
# in ~/.cache/careledger and checked against its pinned SHA-256; careledger_network/s3proxy.py).
s3proxy: setup
	@$(PY) -m careledger_network.s3proxy >/dev/null

test: setup fabric browser softhsm s3proxy
	$(PY) -m pytest

chaos: setup fabric
	$(PY) -m pytest -m chaos -s

test-unit: setup softhsm s3proxy
	$(PY) -m pytest -m "not network"

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

check: lint test

bench: network-up
	@$(PY) -m careledger_bench.suite

# pip-audit lives in its own virtualenv: its dependencies must not shift the locked ones it audits.
.venv-audit/.installed:
	@echo "setting up .venv-audit: pip-audit"
	@$(PYTHON) -m venv .venv-audit
	@.venv-audit/bin/pip install --quiet pip-audit==2.10.1
	@touch $@

audit: .venv-audit/.installed
	@$(PYTHON) .ci/audit
