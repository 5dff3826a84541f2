# autocode: every target installs into .venv first, so each works on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

ADS ?= raw/
OUT ?= drafts/
GOLD ?= gold/
PRED ?= $(OUT)/codings.jsonl
MODEL ?=
DATA ?= ../shared/data/jobads
CODINGS ?= $(OUT)
STATS ?= stats/
BY ?=
VALIDATED ?=

.PHONY: install test lint docs autocode eval review correct stats bench screenshots clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check pipeline tests bench
	$(BIN)/ruff format --check pipeline tests bench
	$(BIN)/mypy pipeline
	$(BIN)/pytest -q -p no:cacheprovider tests/test_architecture.py
	$(BIN)/python -m pipeline.cli.reference --check docs/cli.md

docs: $(STAMP)
	$(BIN)/python -m pipeline.cli.reference docs/cli.md

autocode: $(STAMP)
	$(BIN)/autocode code $(ADS) --out $(OUT) $(if $(MODEL),--model $(MODEL))

eval: $(STAMP)
	$(BIN)/autocode eval --gold $(GOLD) --pred $(PRED) $(if $(ADS),--ads $(ADS))

review: $(STAMP)
	$(BIN)/autocode review $(OUT) --ads $(ADS) --gold $(GOLD)

correct: $(STAMP)
	$(BIN)/autocode review $(OUT) --ads $(ADS) --gold $(GOLD) --serve

stats: $(STAMP)
	$(BIN)/autocode stats $(CODINGS) --out $(STATS) $(if $(ADS),--ads $(ADS)) \
		$(foreach column,$(BY),--by $(column)) $(if $(VALIDATED),--validated $(VALIDATED))

bench: $(STAMP)
	$(BIN)/python -m bench.run --data $(DATA)

screenshots: $(STAMP)
	$(BIN)/python docs/screenshots.py

clean:
	rm -rf $(VENV) drafts review stats .autocode-cache
