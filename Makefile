# s3logsbeat: `make help` lists the targets.
CARGO ?= cargo
PYTHON ?= python3
SAMPLES := tests/data/samples
# moto's server stands in for S3 and SQS in the tests and the demo.
VENV := .venv
MOTO_VERSION := 5.2.5
# cfn-lint checks deploy/aws/s3logsbeat.cfn.yml (tests/e2e/commands.rs).
CFN_LINT_VERSION := 1.58.0

.PHONY: bench-cloudwatch bench-s3poll help build release dist test lint fmt bench bench-e2e bench-faults fuzz fuzz-ci fuzz-tools demo clean venv tools

help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

build: ## Debug build.
	$(CARGO) build

release: ## Release build: target/release/s3logsbeat.
	$(CARGO) build --release

dist: ## Distributed binary: release with whole-program optimisation (fat LTO, 10-17 min on 2 cores), stripped (target/dist/s3logsbeat).
	$(CARGO) build --locked --profile dist --bin s3logsbeat
	@ls -l target/dist/s3logsbeat

fmt: ## Format the code.
	$(CARGO) fmt --all

lint: ## rustfmt check and clippy with warnings as errors.
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets --all-features -- -D warnings

venv: $(VENV)/.installed ## Python virtualenv with moto's server (S3, SQS, CloudFormation stand-in for tests and demo) and cfn-lint.

$(VENV)/.installed:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet "moto[server]==$(MOTO_VERSION)" "cfn-lint==$(CFN_LINT_VERSION)"
	touch $@

# promtool and prometheus check what /metrics serves (tests/e2e/monitoring.rs); Debian's prometheus package
# has both. Installed once: a machine that has them is left alone.
tools: ## Test tools from the system's packages: promtool and prometheus (Debian's prometheus; needs root).
	@command -v promtool >/dev/null && command -v prometheus >/dev/null || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus || \
		{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus; }

test: lint venv tools ## Every test (unit, golden, samples, robustness, CLI, daemon against moto and an ES double).
	$(PYTHON) -m unittest discover -s tests/doubles -q
	$(CARGO) test --features fault-hooks

bench: ## Parse + _id + NDJSON benchmarks per format, plain and gzip (criterion; S3LB_BENCH_FORMATS=alb,waf to choose).
	$(CARGO) bench --bench parse

bench-e2e: release venv ## The daemon end to end (moto + file output / Elasticsearch output into a fast sink / ES double / empty queue): events/s, MB/s, CPU per event, peak RSS, AWS calls per object, fixed costs.
	$(CARGO) build --release --example es_sink
	$(VENV)/bin/python scripts/bench_e2e.py $(E2E_ARGS)

bench-faults: release venv ## Delivery under faults, end to end (moto + ES double + release binary): drain time, outage recovery, clean throughput.
	$(VENV)/bin/python scripts/bench_faults.py

bench-cloudwatch: release venv ## A cloudwatch_logs input draining log groups on moto (1M events by default; CW_ARGS="--events 200000"): events/s, CPU per event.
	$(VENV)/bin/python scripts/bench_cloudwatch.py $(CW_ARGS)

bench-s3poll: release venv ## A polled bucket of 10,000 to 1,000,000 objects (a synthetic S3 listing, S3POLL_ARGS="--sizes 10000"): objects/s, peak RSS, cursor size.
	$(VENV)/bin/python scripts/bench_s3poll.py $(S3POLL_ARGS)

FUZZ_TARGETS := object_stream notification config processors index_name custom_format overrides
FUZZ_SECONDS ?= 600
# libFuzzer options for every run: memory bounded on every input, and a time limit per input.
FUZZ_LIMITS := -rss_limit_mb=1024 -malloc_limit_mb=512 -timeout=10

fuzz-tools:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked

fuzz: fuzz-tools ## Coverage-guided fuzzing (nightly + cargo-fuzz) of every target, FUZZ_SECONDS each (default 600).
	for t in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/corpus/$$t && \
		$(CARGO) +nightly fuzz run -O $$t fuzz/corpus/$$t fuzz/seeds/$$t -- \
			-max_total_time=$(FUZZ_SECONDS) $(FUZZ_LIMITS) || exit 1; \
	done

# CI's run is fixed: a seed and a number of runs per target (about a minute each here), so the same
# commit always fuzzes the same inputs and a red CI means a real, reproducible finding.
# New inputs go to a scratch corpus (the first directory), never into the committed seeds.
# `overrides` keeps to short inputs (its doc says why).
fuzz-ci: fuzz-tools ## The fixed-budget fuzzing run CI makes (fixed seed and runs per target).
	rm -rf target/fuzz-ci && for t in $(FUZZ_TARGETS); do mkdir -p target/fuzz-ci/$$t; done
	$(CARGO) +nightly fuzz run -O object_stream target/fuzz-ci/object_stream fuzz/seeds/object_stream -- -seed=1 -runs=15000 $(FUZZ_LIMITS)
	$(CARGO) +nightly fuzz run -O notification target/fuzz-ci/notification fuzz/seeds/notification -- -seed=1 -runs=1000000 $(FUZZ_LIMITS)
	$(CARGO) +nightly fuzz run -O config target/fuzz-ci/config fuzz/seeds/config -- -seed=1 -runs=10000 $(FUZZ_LIMITS)
	$(CARGO) +nightly fuzz run -O processors target/fuzz-ci/processors fuzz/seeds/processors -- -seed=1 -runs=6000 $(FUZZ_LIMITS)
	$(CARGO) +nightly fuzz run -O index_name target/fuzz-ci/index_name fuzz/seeds/index_name -- -seed=1 -runs=150000 $(FUZZ_LIMITS)
	$(CARGO) +nightly fuzz run -O custom_format target/fuzz-ci/custom_format fuzz/seeds/custom_format -- -seed=1 -runs=3500 $(FUZZ_LIMITS)
	$(CARGO) +nightly fuzz run -O overrides target/fuzz-ci/overrides fuzz/seeds/overrides -- -seed=1 -runs=3000 -max_len=512 $(FUZZ_LIMITS)

demo: release venv ## Moto S3+SQS with notifications, the sample logs uploaded, `s3logsbeat --once`, what arrived (ES_URL=http://... to use Elasticsearch).
	$(VENV)/bin/python scripts/demo.py

clean: ## Remove build output.
	$(CARGO) clean
