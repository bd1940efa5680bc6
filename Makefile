# mailops.gmail developer entry points. `make test` is what CI runs (.ci/run).
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
COLLECTIONS := $(CURDIR)/.build/collections
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PATH := $(VENV)/bin:$(PATH)

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

venv: $(VENV)/.stamp  ## Create .venv from requirements-dev.txt (idempotent)
$(VENV)/.stamp: requirements-dev.txt
	scripts/venv.sh $(VENV) requirements-dev.txt

collection: venv  ## Make the collection importable as mailops.gmail
	@mkdir -p $(COLLECTIONS)/ansible_collections/mailops
	@ln -sfn $(CURDIR) $(COLLECTIONS)/ansible_collections/mailops/gmail

.PHONY: help venv collection
