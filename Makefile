# Setup and test are the two commands a new user (and CI) runs; see README.md.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
# llama.cpp is built from source; without its multimodal library (mtmd), which the node does
# not use, the build takes about a quarter less time.
LLAMA_CMAKE_ARGS ?= -DLLAVA_BUILD=OFF

.PHONY: setup browser media-tools test e2e lab-soak lint bench screenshots clean

setup: browser media-tools
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS) $$CMAKE_ARGS" $(BIN)/pip install --progress-bar off -e '.[dev]'
	$(BIN)/secondme-node --version

# The browser tests drive Debian's Chromium (Playwright cannot download its own browsers here).
browser:
	@if command -v chromium >/dev/null 2>&1; then \
		echo "browser: $$(command -v chromium)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
		echo "browser: installed $$(chromium --version 2>/dev/null)"; \
	else \
		echo "browser: no chromium; the web app's browser tests will skip (install Chromium," \
		     "or set SECONDME_CHROMIUM to its path)"; \
	fi

# Photos are read with Tesseract (OCR); the tests speak with espeak-ng to make voice notes.
MEDIA_PACKAGES = tesseract-ocr tesseract-ocr-eng espeak-ng
media-tools:
	@if command -v tesseract >/dev/null 2>&1 && command -v espeak-ng >/dev/null 2>&1; then \
		echo "media: $$(tesseract --version 2>&1 | head -1), espeak-ng"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $(MEDIA_PACKAGES) >/dev/null; \
		echo "media: installed $$(tesseract --version 2>&1 | head -1), espeak-ng"; \
	else \
		echo "media: install $(MEDIA_PACKAGES) (photos need Tesseract for their text;" \
		     "the voice tests need espeak-ng)"; \
	fi

test:
	$(BIN)/ruff check .
	SECONDME_REQUIRE_POSTGRES=1 SECONDME_REQUIRE_BROWSER=1 $(BIN)/pytest -q

# The multi-host scenario in network namespaces (needs root): fails, not skips, without them.
e2e:
	SECONDME_REQUIRE_NETNS=1 $(BIN)/pytest -q tests/e2e/test_multihost.py

lab-soak:  # the group discussion under delay and loss, 20 times on one lab
	SECONDME_REQUIRE_NETNS=1 SECONDME_LAB_REPEAT=20 $(BIN)/pytest -q -s tests/e2e/test_multihost.py \
		-k "network_forms or grant_covers or group_discusses or delay_and_loss"

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench:
	$(BIN)/python bench/bench_ingest.py
	$(BIN)/python bench/bench_imports.py
	$(BIN)/python bench/bench_media.py
	$(BIN)/python bench/bench_voice.py
	$(BIN)/python bench/bench_search.py
	$(BIN)/python bench/bench_chat.py
	$(BIN)/python bench/bench_smp_transport.py
	$(BIN)/python bench/bench_l1.py
	$(BIN)/python bench/bench_access.py
	$(BIN)/python bench/bench_discovery.py
	$(BIN)/python bench/bench_groups.py
	$(BIN)/python bench/bench_memory_qa.py --questions 80
	$(BIN)/python bench/bench_l2.py
	$(BIN)/python bench/bench_multihost.py
	$(BIN)/python bench/bench_web.py

# Screenshots of every page of the web app, for the README.
screenshots:
	SECONDME_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q tests/e2e/test_web.py -k browser

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
