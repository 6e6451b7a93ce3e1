# Everything a fresh machine needs goes through `setup`; every other target depends on it.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The Lambda runtime is python3.12: develop and test on the same minor version. RUNTIME_PYTHON
# is found where the layers' Makefiles find theirs (override: RUNTIME_PYTHON=/path/to/python3.12).
include layers/common/python.mk
VENV := .venv
PY := $(VENV)/bin/python
OPENSSL_DIR := $(CURDIR)/.cache/openssl11/lib
BUILD_DIR := .aws-sam/build

# The engine's .NET runtime needs OpenSSL 1.1 (fetched from Debian bullseye by `setup`).
# Both fetchers download pinned .debs straight from Debian's pool over HTTPS (no apt or dpkg);
# DEBIAN_MIRROR and DEBIAN_SECURITY_MIRROR (environment or command line) name mirrors, and reach
# the layers' Makefiles under `sam build` through the environment, as TESSERACT_LANGUAGES does.
export OCR_OPENSSL_LIB_DIR := $(OPENSSL_DIR)
# Tesseract's language data for local runs and tests: the same pinned Debian packages and code
# as the TesseractLayer's tessdata/ (fetched by `setup`). TESSERACT_LANGUAGES (space or comma
# separated; osd is always added) picks the languages for both, and reaches the layer's Makefile
# under `sam build` through the environment. Default: fetch_tessdata.py's DEFAULT_LANGUAGES.
TESSDATA_DIR := $(CURDIR)/.cache/tessdata
export OCR_TESSDATA_DIR ?= $(TESSDATA_DIR)
ifndef TESSERACT_LANGUAGES
TESSERACT_LANGUAGES := $(shell $(RUNTIME_PYTHON) layers/tesseract/fetch_tessdata.py --print-default-languages 2>/dev/null)
endif
export TESSERACT_LANGUAGES
# Fetch again when the languages asked for differ from those fetched last (the stamp holds them).
comma := ,
TESSDATA_STAMP := $(TESSDATA_DIR)/.languages
TESSDATA_WANTED := $(strip $(subst $(comma), ,$(TESSERACT_LANGUAGES)))
TESSDATA_HAVE := $(strip $(file <$(TESSDATA_STAMP)))
TESSDATA_CHANGED := $(strip $(filter-out $(TESSDATA_HAVE),$(TESSDATA_WANTED)) $(filter-out $(TESSDATA_WANTED),$(TESSDATA_HAVE)))
export OCR_RESOURCES_DIR ?= $(CURDIR)/.cache/ocr-models
# The Lambda architecture of `make build` and `make deploy`: x86_64 (default, python3.12, both
# engines) or arm64 (Graviton, python3.13, Tesseract only: README, "Graviton"). SAM does not tell
# a makefile build which architecture the template resolved, so the function's and the
# TesseractLayer's Makefiles read it from LAMBDA_ARCHITECTURE.
ARCH ?= x86_64
export LAMBDA_ARCHITECTURE := $(ARCH)
export SAM_CLI_TELEMETRY := 0
# sam build looks for python3.12 on PATH; the virtualenv provides it.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: help setup emulator lock demo bench-documents bench-accuracy test test-unit test-integration test-engine test-e2e test-infrastructure lint build validate invoke local-s3 up deploy redrive backfill reprocess load bench clean FORCE

help:
	@echo "make demo [ENGINE=tesseract] [IMAGE=scan.png]   set up, then recognize a sample through a local S3 and the handler"
	@echo "make test      set up, then run every test tier (unit, integration, engine, e2e, infrastructure)"
	@echo "make test-unit | test-integration | test-engine | test-e2e | test-infrastructure   one tier (tests/<tier>/)"
	@echo "make build [TESSERACT_LANGUAGES='eng rus']   sam build (no Docker; both engines' layers) and check Lambda's size limit per engine"
	@echo "make build ARCH=arm64   the same for Graviton: the function and the Tesseract layer (python3.13), self-tested under emulation"
	@echo "make emulator   install qemu-user-static (as root, with apt-get) to run arm64 builds on x86_64"
	@echo "make invoke EVENT=events/s3-put.json [SEED=1]   run the handler on an event (Docker-free)"
	@echo "make local-s3  an S3 endpoint on http://127.0.0.1:5000 (moto_server) for make invoke"
	@echo "make up [ENGINE=aspose|tesseract] [WORKERS=2] [BATCH=N] [VISIBILITY=S] [FAKE=1]   the deployed flow locally, in the foreground: S3+SQS on http://127.0.0.1:5000, queue -> worker processes"
	@echo "make redrive STACK=<name> [DRY_RUN=1] [RATE=N] [LOCAL=1 [MAX=N]]   move the dead-letter queue back to the ingest queue (SQS's redrive; LOCAL=1: receive/send/delete, for moto)"
	@echo "make reprocess STACK=<name> [REASON=...] [PREFIX=...] [LOCAL=1]   re-enqueue objects whose failures heal once fixed (model-missing, ...)"
	@echo "make backfill STACK=<name> [PREFIX=...] [RATE=50] [RESTART=1] [MAX=N] [DRY_RUN=1] [LOCAL=1]   enqueue objects already in the input bucket (resumable)"
	@echo "make load [LOAD_OBJECTS=300] [LONG=2] [ENGINE=aspose|tesseract] [WORKERS=2] [BATCH=N] [FAKE=1]   uploads through the make-up topology (worker processes, SQS retries, DLQ), long documents too; checks every result"
	@echo "make bench [SAMPLES=../shared/ocr-samples]   speed, memory and cost, side by side (tables + bench/results/*.json), then bench-documents"
	@echo "make bench-accuracy [SAMPLES=dir] [ENGINE=tesseract] [CHECK=1]   CER, WER, word-bag F1, seconds and confidence per category on real images with .gt.txt truths"
	@echo "make bench-documents [ENGINE=tesseract]   PDFs through the handler: text layer (auto) against ocr, mixed, scanned, searchable-PDF sizes"
	@echo "make lint      ruff and mypy --strict"
	@echo "make lock [UPGRADE=1]   re-pin the dev dependencies (requirements-dev.lock) and the function's requirements.txt"
	@echo "make deploy    sam deploy --guided"

setup: $(VENV)/.installed $(OPENSSL_DIR)/libssl.so.1.1 $(TESSDATA_STAMP)

# The venv holds requirements-dev.lock's pins (hash-checked) and this project, editable; it is
# brought up to date when the lock or pyproject.toml changes. `make lock` writes the lock.
$(VENV)/.installed: requirements-dev.lock pyproject.toml
	@test -n "$(RUNTIME_PYTHON)" || { echo "Python 3.12 not found: install it or pass RUNTIME_PYTHON=/path/to/python3.12" >&2; exit 1; }
	test -x $(PY) || $(RUNTIME_PYTHON) -m venv $(VENV)
	@# First the lock's pip itself (hash-checked too): a new venv's pip 23 refuses the lock's extras.
	awk '/^pip==/ { found = 1 } found && /^ *#/ { exit } found' requirements-dev.lock \
		| $(PY) -m pip install --quiet --require-hashes --no-deps -r /dev/stdin
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@$(PY) -m pip check >/dev/null || { $(PY) -m pip check >&2; echo "pyproject.toml and requirements-dev.lock disagree: run make lock" >&2; exit 1; }
	touch $@

# Pins every development dependency (pyproject.toml's dependencies and dev extra), with hashes,
# into requirements-dev.lock, keeping the pins that still fit (UPGRADE=1: the newest of all), then
# writes functions/ocr/requirements.txt from it (tools/requirements.py).
# It needs only the venv's pip-compile: after a dependency is added to pyproject.toml, the venv
# no longer matches the old lock (setup's check fails), and this is what makes them match again.
lock:
	@test -x $(VENV)/bin/pip-compile || $(MAKE) $(VENV)/.installed
	CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/pip-compile --quiet --extra dev --generate-hashes \
		--allow-unsafe --no-strip-extras --no-emit-index-url --no-emit-find-links $(if $(UPGRADE),--upgrade) \
		--output-file requirements-dev.lock pyproject.toml
	$(PY) -m tools.requirements

$(OPENSSL_DIR)/libssl.so.1.1: layers/aspose-ocr/fetch_openssl.py layers/common/debian_fetch.py
	$(RUNTIME_PYTHON) layers/aspose-ocr/fetch_openssl.py --dest $(OPENSSL_DIR)
	@touch $@

$(TESSDATA_STAMP): layers/tesseract/fetch_tessdata.py layers/common/debian_fetch.py $(if $(TESSDATA_CHANGED),FORCE)
	$(RUNTIME_PYTHON) layers/tesseract/fetch_tessdata.py --dest $(TESSDATA_DIR) --languages "$(TESSERACT_LANGUAGES)" --stamp $@

FORCE:

# Debian's qemu-user-static runs the arm64 layer's self-test and the arm64 e2e test on an x86_64
# machine. A system package: `setup` never installs it; this target does, as root (.ci/run calls
# it), and otherwise says how.
emulator:
	@if command -v qemu-aarch64-static >/dev/null || [ "$$(uname -m)" = aarch64 ]; then \
		echo "arm64 programs can run here"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-user-static || \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-user-static; }; \
	else \
		echo "install qemu-user-static (Debian/Ubuntu, as root: apt-get install -y qemu-user-static)" >&2; exit 1; \
	fi

demo: setup
	$(PY) -m tools.demo $(if $(IMAGE),--image $(IMAGE)) $(if $(ENGINE),--engine $(ENGINE))

# The tiers are tests/<tier>/ (README's Development). Each runs in its own pytest session, and
# each must collect tests: pytest exits 5 when a tier collected none, and `test` fails if any did.
TEST_TIERS := unit integration engine e2e infrastructure
test: setup
	@stray=$$(ls tests/test_*.py 2>/dev/null); test -z "$$stray" || { echo "not in a tier: $$stray" >&2; exit 1; }
	@failed=""; for tier in $(TEST_TIERS); do \
		echo "=== tests/$$tier"; $(PY) -m pytest tests/$$tier $(PYTEST_ARGS) || failed="$$failed $$tier"; \
	done; test -z "$$failed" || { echo "failed tiers:$$failed" >&2; exit 1; }

$(TEST_TIERS:%=test-%): test-%: setup
	$(PY) -m pytest tests/$* $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check functions tools tests layers bench
	$(VENV)/bin/ruff format --check functions tools tests layers bench
	$(VENV)/bin/mypy functions/ocr tools bench tests
# Each layer's scripts run with their own directory and layers/common on sys.path: one run each.
	MYPYPATH=layers/aspose-ocr:layers/common $(VENV)/bin/mypy --cache-dir .mypy_cache/aspose-ocr layers/aspose-ocr/*.py layers/common/*.py
	MYPYPATH=layers/tesseract:layers/common $(VENV)/bin/mypy --cache-dir .mypy_cache/tesseract layers/tesseract/*.py layers/common/*.py

validate: setup
	$(VENV)/bin/sam validate --lint

build: setup
	@case "$(ARCH)" in x86_64|arm64) ;; *) echo "ARCH must be x86_64 or arm64, not '$(ARCH)'" >&2; exit 2;; esac
ifeq ($(ARCH),arm64)
	@# The function with the one layer an arm64 stack attaches (Aspose's is x86_64 only).
	$(VENV)/bin/sam build OcrFunction --parameter-overrides OcrEngine=tesseract Architecture=arm64
	$(PY) tools/check_sizes.py $(BUILD_DIR) --engine tesseract=TesseractLayer --architecture arm64
else
	$(VENV)/bin/sam build
	$(PY) tools/check_sizes.py $(BUILD_DIR) --engine aspose=AsposeOcrLayer --engine tesseract=TesseractLayer --architecture x86_64
endif

invoke: setup
	@test -n "$(EVENT)" || { echo "usage: make invoke EVENT=events/s3-put.json [SEED=1]" >&2; exit 2; }
	$(PY) -m tools.invoke --event $(EVENT) $(if $(SEED),--seed)

local-s3: setup
	$(VENV)/bin/moto_server -H 127.0.0.1 -p 5000

up: setup
	$(PY) -m tools.local_stack $(if $(ENGINE),--engine $(ENGINE)) $(if $(WORKERS),--workers $(WORKERS)) $(if $(BATCH),--batch-size $(BATCH)) $(if $(VISIBILITY),--visibility-timeout $(VISIBILITY)) $(if $(FAKE),--fake-engine)

redrive: setup
	@test -n "$(STACK)$(LOCAL)" || { echo "usage: make redrive STACK=<stack name> [DRY_RUN=1] [RATE=N]   (or LOCAL=1 [MAX=N]: AWS_ENDPOINT_URL's ocr-ingest-dlq -> ocr-ingest, or the stack's queues with STACK)" >&2; exit 2; }
	$(PY) -m tools.redrive $(if $(STACK),--stack $(STACK)) $(if $(LOCAL),--local) $(if $(DRY_RUN),--dry-run) $(if $(MAX),--max $(MAX)) $(if $(RATE),--max-per-second $(RATE))

reprocess: setup
	@test -n "$(STACK)$(LOCAL)" || { echo "usage: make reprocess STACK=<stack name> [REASON=model-missing] [PREFIX=...] [RATE=50]   (or LOCAL=1: make up's ocr-output -> ocr-ingest)" >&2; exit 2; }
	$(PY) -m tools.reprocess $(if $(STACK),--stack $(STACK),--local) $(if $(REASON),--reason $(REASON)) $(if $(PREFIX),--prefix '$(PREFIX)') $(if $(RATE),--rate $(RATE))

backfill: setup
	@test -n "$(STACK)$(LOCAL)" || { echo "usage: make backfill STACK=<stack name> [PREFIX=...] [RATE=50] [RESTART=1] [MAX=N] [DRY_RUN=1]   (or LOCAL=1: AWS_ENDPOINT_URL's ocr-input -> ocr-ingest)" >&2; exit 2; }
	$(PY) -m tools.backfill $(if $(STACK),--stack $(STACK),--local) $(if $(PREFIX),--prefix '$(PREFIX)') $(if $(RATE),--rate $(RATE)) $(if $(RESTART),--restart) $(if $(MAX),--max $(MAX)) $(if $(DRY_RUN),--dry-run)

load: setup
	$(PY) -m tools.load --objects $(or $(LOAD_OBJECTS),300) $(if $(LONG),--long-documents $(LONG)) $(if $(ENGINE),--engine $(ENGINE)) $(if $(WORKERS),--workers $(WORKERS)) $(if $(BATCH),--batch-size $(BATCH)) $(if $(VISIBILITY),--visibility-timeout $(VISIBILITY)) $(if $(FAKE),--fake-engine) $(if $(JSON),--json $(JSON))

bench: setup
	$(PY) -m bench.bench $(if $(SAMPLES),--samples $(SAMPLES))
	$(PY) -m bench.documents
	$(PY) -m bench.accuracy

# Accuracy on real inputs (default ../shared/real-samples; SAMPLES=<folder of images with
# .gt.txt files> for your own), per category and engine; CHECK=1 fails on a CER regression.
bench-accuracy: setup
	POWERTOOLS_LOG_LEVEL=ERROR $(PY) -m bench.accuracy $(if $(SAMPLES),--samples $(SAMPLES)) $(if $(ENGINE),--engines $(ENGINE)) $(if $(CHECK),--check)

# PDFs through the handler, both engines: text layers against recognition, output sizes.
bench-documents: setup
	$(PY) -m bench.documents $(if $(ENGINE),--engines $(ENGINE))

deploy: build
	$(VENV)/bin/sam deploy --guided $(if $(filter arm64,$(ARCH)),--parameter-overrides OcrEngine=tesseract Architecture=arm64)

clean:
	rm -rf .aws-sam .cache .pytest_cache .mypy_cache .ruff_cache $(VENV)
