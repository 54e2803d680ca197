# s3logsbeat: `make help` lists the targets.
CARGO ?= cargo
SAMPLES := tests/data/samples

.PHONY: help build release test lint fmt bench demo clean

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
	$(CARGO) clippy --all-targets -- -D warnings

test: lint ## Every test (unit, golden, samples, robustness, CLI), after the lint checks.
	$(CARGO) test

bench: ## Parse + _id + NDJSON benchmarks per format, plain and gzip (criterion; S3LB_BENCH_FORMATS=alb,waf to choose).
	$(CARGO) bench --bench parse

demo: release ## Parse the bundled AWS sample logs with `s3logsbeat parse` and show what an output receives.
	@set -e; bin=target/release/s3logsbeat; \
	for s in alb:alb-aws-docs.log elb:elb-logstash-patterns.log cloudfront:cloudfront-aws-docs.log \
	         cloudfront:cloudfront-logstash-patterns.log waf:waf-aws-docs.ndjson; do \
	  fmt=$${s%%:*}; file=$${s#*:}; \
	  echo "== $$fmt: $(SAMPLES)/$$file (gzip-compressed on the way in, as S3 holds it)"; \
	  gzip -c $(SAMPLES)/$$file | $$bin parse --format $$fmt --key s3://demo-bucket/AWSLogs/123456789012/$$file.gz - | head -n 2; \
	done; \
	echo "== every event of every sample, as NDJSON: target/demo-events.ndjson"; \
	: > target/demo-events.ndjson; \
	for s in alb:alb-aws-docs.log elb:elb-logstash-patterns.log cloudfront:cloudfront-aws-docs.log \
	         cloudfront:cloudfront-logstash-patterns.log waf:waf-aws-docs.ndjson; do \
	  fmt=$${s%%:*}; file=$${s#*:}; \
	  $$bin parse -f $$fmt $(SAMPLES)/$$file >> target/demo-events.ndjson 2>/dev/null; \
	done; \
	wc -l target/demo-events.ndjson

clean: ## Remove build output.
	$(CARGO) clean
