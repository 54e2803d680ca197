# s3logsbeat: `make help` lists the targets.
CARGO ?= cargo
PYTHON ?= python3
SAMPLES := tests/data/samples
# moto's server stands in for S3 and SQS in the tests and the demo.
VENV := .venv
MOTO_VERSION := 5.2.5

.PHONY: help build release test lint fmt bench bench-faults demo clean venv

help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

build: ## Debug build.
	$(CARGO) build

release: ## Release build: target/release/s3logsbeat.
	$(CARGO) build --release

fmt: ## Format the code.
	$(CARGO) fmt --all

lint: ## rustfmt check and clippy with warnings as errors.
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets --all-features -- -D warnings

venv: $(VENV)/.installed ## Python virtualenv with moto's server (S3 and SQS stand-in for tests and demo).

$(VENV)/.installed:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet "moto[server]==$(MOTO_VERSION)"
	touch $@

test: lint venv ## Every test (unit, golden, samples, robustness, CLI, daemon against moto and an ES double).
	$(PYTHON) -m unittest discover -s tests/doubles -q
	$(CARGO) test --features fault-hooks

bench: ## Parse + _id + NDJSON benchmarks per format, plain and gzip (criterion; S3LB_BENCH_FORMATS=alb,waf to choose).
	$(CARGO) bench --bench parse

bench-faults: release venv ## Delivery under faults, end to end (moto + ES double + release binary): drain time, outage recovery, clean throughput.
	$(VENV)/bin/python scripts/bench_faults.py

demo: release venv ## Moto S3+SQS with notifications, the sample logs uploaded, `s3logsbeat --once`, what arrived (ES_URL=http://... to use Elasticsearch).
	$(VENV)/bin/python scripts/demo.py

clean: ## Remove build output.
	$(CARGO) clean
