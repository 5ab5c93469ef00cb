# continuouspipe.kubernetes — developer entry points.
#   make demo    start local clusters and deploy examples/ with the playbooks
#   make test    everything CI runs: unit + golden + corpus, hostile inputs, control plane smoke/integration, sanity, lint,
#                changelog, collection docs lint, and the built tarball installed and used by FQCN
#   make docsite build the HTML docsite (plugin, role and extra docs) into .build/docsite/html
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
CACHE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/continuouspipe-kubernetes
VENV_KEY := $(shell cat requirements-dev.txt | $(PYTHON) -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read() + sys.version.encode()).hexdigest()[:12])')
VENV ?= $(CACHE_DIR)/venv-$(VENV_KEY)
PY := $(VENV)/bin/python
# kubernetes.core in a venv of its own (the side-by-side connection tests and the benchmarks)
KCORE_KEY := $(shell cat tests/kcore-requirements.txt | $(PYTHON) -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read() + sys.version.encode()).hexdigest()[:12])')
KCORE_VENV ?= $(CACHE_DIR)/kcore-venv-$(KCORE_KEY)
export CP_KCORE_PYTHON := $(KCORE_VENV)/bin/python
# The collection loader needs <root>/ansible_collections/continuouspipe/kubernetes; this links the checkout there.
COLLECTIONS_ROOT := $(CURDIR)/.build/collections
COLLECTION_LINK := $(COLLECTIONS_ROOT)/ansible_collections/continuouspipe/kubernetes
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS_ROOT)
export PATH := $(VENV)/bin:/usr/local/go/bin:$(PATH)
NAME ?= local
PYTEST_ARGS ?=

.PHONY: help venv kcore collection-link test unit hostile cluster-test sanity lint changelog docs-lint package-test docsite cluster-build cluster-up cluster-down clusters-down demo render clean

help:
	@grep -E '^#   make' Makefile | sed 's/^#   //'

venv: $(VENV)/.complete
$(VENV)/.complete:  # the path holds a hash of requirements-dev.txt: a new content is a new venv
	@echo "== creating $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

kcore: $(KCORE_VENV)/.complete
$(KCORE_VENV)/.complete:  # keyed by tests/kcore-requirements.txt like the venv above
	@echo "== creating $(KCORE_VENV) (kubernetes.core for the side-by-side tests)"
	$(PYTHON) -m venv $(KCORE_VENV)
	$(KCORE_VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/kcore-requirements.txt
	touch $@

collection-link:
	@mkdir -p $(dir $(COLLECTION_LINK))
	@ln -sfn $(CURDIR) $(COLLECTION_LINK)

cluster-build:
	bash tests/cluster/build.sh

cluster-up: venv cluster-build
	$(PY) tests/cluster/cluster.py up $(NAME)

cluster-down: venv
	$(PY) tests/cluster/cluster.py down $(NAME)

clusters-down: venv
	$(PY) tests/cluster/cluster.py down --all

unit: venv collection-link kcore
	$(PY) -m pytest tests/unit -q -p no:cacheprovider $(PYTEST_ARGS)

# Hostile repositories and options (tests/hostile): ~2,300 cases, each in a forked child with CPU, memory
# and file-size limits; the counts and the slowest case are printed and written to .build/hostile-report.json.
hostile: venv collection-link
	$(PY) -m pytest tests/hostile -q -p no:cacheprovider $(PYTEST_ARGS)

# Tests against the real local control planes. Tests that fail are run once more on their own and the
# retry is reported loudly: a few rollout-timing tests are known to be sensitive to a loaded 2-core box.
cluster-test: venv collection-link kcore cluster-build
	@$(PY) -m pytest tests/cluster tests/integration -q -o cache_dir=.build/pytest-cache $(PYTEST_ARGS) || { \
	  echo "== RETRYING the failed cluster tests once, on their own (see the failures above) =="; \
	  $(PY) -m pytest --last-failed --last-failed-no-failures none -q -o cache_dir=.build/pytest-cache $(PYTEST_ARGS) \
	    tests/cluster tests/integration; }

sanity: venv
	bash tests/sanity.sh

lint: venv collection-link
	$(VENV)/bin/ansible-lint --profile production

# antsibull-changelog: fragments lint clean, CHANGELOG.rst/.md generated from changelogs/changelog.yaml
changelog: venv collection-link
	bash tests/changelog.sh

# antsibull-docs: plugin, module, role and extra docs of the collection (as the docsite renders them)
docs-lint: venv collection-link
	cd $(COLLECTION_LINK) && $(VENV)/bin/antsibull-docs lint-collection-docs --plugin-docs .

# the tarball: no symlink or build leftover in it, installs into an empty path, works by FQCN from outside
package-test: venv
	$(PY) tests/package/check_package.py

test: unit hostile cluster-test sanity lint changelog docs-lint package-test

# HTML docsite (antsibull-docs + Sphinx, offline) into .build/docsite/html; not part of `make test`
docsite: venv
	$(PY) docs/docsite/build.py

# make render: playbooks/render.yml with the same defaults (an undefined ${VAR} is an error; UNDEFINED=keep
# leaves it verbatim). The project's variables as JSON: VARS='{"A": "1"}' SECRETS='{"DB_PASSWORD": "x"}';
# examples/app gets the two it needs by default.
RENDER_SOURCE = $(or $(SOURCE),examples/app)
RENDER_EXAMPLE = $(filter examples/app examples/app/ ./examples/app,$(RENDER_SOURCE))
RENDER_VARS = $(or $(VARS),$(if $(RENDER_EXAMPLE),{"CLUSTER_NAME": "local"},{}))
RENDER_SECRETS = $(or $(SECRETS),$(if $(RENDER_EXAMPLE),{"DATABASE_PASSWORD": "example-only"},{}))

render: venv collection-link
	$(VENV)/bin/ansible-playbook playbooks/render.yml -e source_dir=$(RENDER_SOURCE) -e branch=$(or $(BRANCH),main) -e output_dir=$(or $(OUT),.build/rendered) -e undefined_variables=$(or $(UNDEFINED),error) -e '{"variables": $(RENDER_VARS), "secret_variables": $(RENDER_SECRETS)}'

demo: venv collection-link cluster-build
	bash examples/demo.sh

clean:
	rm -rf .build tests/output .hypothesis .pytest_cache
