# Setup and test are the two commands a new user (and CI) runs; see README.md.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: setup test e2e lint bench clean

setup:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --progress-bar off -e '.[dev]'
	$(BIN)/secondme-node --version

test:
	$(BIN)/ruff check .
	SECONDME_REQUIRE_POSTGRES=1 $(BIN)/pytest -q

# The multi-host scenario in network namespaces (needs root): fails, not skips, without them.
e2e:
	SECONDME_REQUIRE_NETNS=1 $(BIN)/pytest -q tests/e2e/test_multihost.py

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench:
	$(BIN)/python bench/bench_ingest.py
	$(BIN)/python bench/bench_search.py
	$(BIN)/python bench/bench_chat.py
	$(BIN)/python bench/bench_smp_transport.py
	$(BIN)/python bench/bench_l1.py
	$(BIN)/python bench/bench_access.py
	$(BIN)/python bench/bench_discovery.py
	$(BIN)/python bench/bench_groups.py
	$(BIN)/python bench/bench_l2.py
	$(BIN)/python bench/bench_multihost.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
