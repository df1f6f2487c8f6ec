# The two quickstart commands (`make demo`, `make test`) and the lock refresh.
# Everything is installed into ./.venv from requirements-lock.txt (exact versions and hashes),
# never into the system Python, so a fresh clone gets exactly what CI tested.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.webscan-installed
NODE_TOOLS := tools/node
NODE_STAMP := $(NODE_TOOLS)/node_modules/.webscan-installed

.PHONY: demo test lock latest system-deps clean-venv

# A new virtualenv whenever the lock or the package metadata changes.
$(STAMP): requirements-lock.txt pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-lock.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

# The Node tools the tests drive (axe-core, web-ext), exactly as tools/node/package-lock.json pins.
$(NODE_STAMP): $(NODE_TOOLS)/package-lock.json
	npm ci --prefix $(NODE_TOOLS) --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

## Set up, then scan the bundled fixtures (a table of verdicts and the evidence behind them).
demo: $(STAMP)
	$(VENV)/bin/webscan scan site_fixtures/ --fail-on never

## Run the whole test suite (pytest arguments in ARGS, e.g. make test ARGS='-k wasm -x').
test: $(STAMP) $(NODE_STAMP)
	$(PY) -m pytest -q --durations=30 $(ARGS)

## Refresh the lock after changing a range in pyproject.toml (needs uv: pip install uv).
## hatchling and editables are the build backend, locked too so `pip install -e .` fetches nothing.
lock:
	printf 'hatchling>=1.24\neditables>=0.5\n' | uv pip compile pyproject.toml - --extra test --extra fuzz --universal \
	  --python-version 3.11 --generate-hashes -o requirements-lock.txt

## Run the tests against the NEWEST versions the ranges allow, to find upstream breaks first.
latest:
	bash bench/check_latest.sh

## Debian packages the browser, extension and database tests need (as root; .ci/run calls this).
system-deps:
	bash .ci/system-deps

clean-venv:
	rm -rf $(VENV)
