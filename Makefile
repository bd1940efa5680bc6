# mailops.gmail developer entry points. `make test` is what CI runs (.ci/run).
# See docs/development.md for what each stage does.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
COLLECTIONS := $(CURDIR)/.build/collections
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PATH := $(VENV)/bin:$(PATH)
# pytest arguments, e.g. `make pytest PYTEST_ARGS="-k emulator -x"`
PYTEST_ARGS ?=
# molecule scenarios to run (default: every extensions/molecule/*/molecule.yml)
SCENARIOS ?=
# ports of `make emulator` (127.0.0.1)
EMULATOR_ARGS ?= --listen 127.0.0.1 --smtp-starttls-port 2587 --smtp-tls-port 2465 --imap-port 2993 \
	--pop-port 2995 --oauth-port 2443 --records $(CURDIR)/.demo/records --ca-dir $(CURDIR)/.demo/ca

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

venv: $(VENV)/.stamp  ## Create .venv from requirements-dev.txt (idempotent)
$(VENV)/.stamp: requirements-dev.txt
	scripts/venv.sh $(VENV) requirements-dev.txt

collection: venv  ## Make the collection importable as mailops.gmail
	@mkdir -p $(COLLECTIONS)/ansible_collections/mailops
	@ln -sfn $(CURDIR) $(COLLECTIONS)/ansible_collections/mailops/gmail

setup:  ## Install host packages (apt) and /etc/containers/containers.conf (root, idempotent)
	scripts/setup-host.sh

images: setup  ## Build the local container images (debootstrap; skipped when up to date)
	scripts/images.sh

test:  ## Set everything up, then run lint, sanity, pytest and molecule (what CI runs)
	scripts/test.sh

lint: collection  ## yamllint + ansible-lint (production profile) + ruff + antsibull-docs (plugin and role docs)
	yamllint -s .
	ansible-lint -q --nocolor
	ruff check .
	cd $(COLLECTIONS)/ansible_collections/mailops/gmail && antsibull-docs lint-collection-docs --plugin-docs .

sanity: collection  ## ansible-test sanity on a temporary ansible_collections/mailops/gmail copy
	scripts/sanity.sh

pytest: collection  ## Unit, then integration tests (tests/), e.g. PYTEST_ARGS="-k send -x"
	scripts/pytest.sh $(PYTEST_ARGS)

molecule: collection  ## Every molecule scenario in sequence (or SCENARIOS="a b")
	scripts/molecule.sh $(SCENARIOS)

emulator: venv  ## Run the Gmail emulator in the foreground on 127.0.0.1 (ports 2587/2465/2993/2995/2443)
	@mkdir -p .demo/records .demo/ca
	cd extensions && $(PY) -m gmail_emulator $(EMULATOR_ARGS)

build: venv  ## Build the collection tarball into .build/
	@mkdir -p .build
	ansible-galaxy collection build --force --output-path .build .

clean-containers:  ## Remove the test containers, emulators and network this project created
	scripts/molecule.sh --clean

.PHONY: help venv collection setup images test lint sanity pytest molecule emulator build clean-containers

# GMAIL_RELAY_MODE=hub: the demo's two Postfix hosts as hub and satellite (docs/fleet.md)
GMAIL_RELAY_MODE ?= direct
demo: setup collection  ## Run the Gmail emulator and site.yml through it, show what arrived (GMAIL_RELAY_MODE=hub)
	GMAIL_RELAY_MODE=$(GMAIL_RELAY_MODE) scripts/demo.sh

demo-clean:  ## Remove .demo/ and every container the demo created
	scripts/demo.sh --clean

.PHONY: demo demo-clean
