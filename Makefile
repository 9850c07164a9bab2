# paca — two commands on a fresh machine: `make run` and `make test`.
SWIFT      ?= swift
PACKAGES    = libcurl4-openssl-dev libhiredis-dev zlib1g-dev pkg-config curl
TEST_PACKAGES = $(PACKAGES) redis-server
SUDO       := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PORT       ?= 8080
ORIGIN_PORT ?= 9000
ADMIN_PORT ?= 9090
PREFIX     ?= /usr/local
# Release builds keep Swift's compile-time exclusivity checks and drop the run-time ones, which
# cost about 16 % of a cache hit's instructions (most of them inside SwiftNIO); debug builds, and so
# every test, keep both. `make release RELEASE_FLAGS=` builds with the run-time checks on.
RELEASE_FLAGS ?= -Xswiftc -enforce-exclusivity=unchecked

.PHONY: run test build release install deps test-deps bench clean check-config format lint deploy-check rolling-restart cache-tests smuggling

## Install the system libraries paca links (only what is missing).
deps:
	@scripts/ensure-packages.sh $(PACKAGES)

test-deps:
	@scripts/ensure-packages.sh $(TEST_PACKAGES)

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release $(RELEASE_FLAGS)

## Build release and start the proxy on :$(PORT) (default 8080) in front of the demo origin on
## :$(ORIGIN_PORT) (default 9000), admin API on :$(ADMIN_PORT) (default 9090):
## `make run PORT=8081 ORIGIN_PORT=9001 ADMIN_PORT=9091`.
run: release
	@PORT=$(PORT) ORIGIN_PORT=$(ORIGIN_PORT) ADMIN_PORT=$(ADMIN_PORT) scripts/run-demo.sh

## Build release and copy the binary to $(PREFIX)/bin (default /usr/local/bin).
install: release
	@dest="$(DESTDIR)$(PREFIX)/bin"; \
	if mkdir -p "$$dest" 2>/dev/null && [ -w "$$dest" ]; then sudo=; else sudo="$(SUDO)"; fi; \
	$$sudo install -d "$$dest" && $$sudo install -m 755 .build/release/paca "$$dest/paca" && echo "installed $$dest/paca"

## Everything the tests need, then the whole suite.
test: test-deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

check-config: build
	.build/debug/paca check-config routes.json

## Side-by-side hit benchmark against nginx and Varnish (see bench/README.md).
bench: release
	bench/hits.sh

## The public HTTP caching conformance suite against paca serve (bench/cache-tests.sh): clones
## http-tests/cache-tests, so it needs the network and node, or CACHE_TESTS_DIR=<a checkout>.
cache-tests: release
	bench/cache-tests.sh

## Public request-smuggling and malformed-request suites against paca serve (bench/smuggling.sh):
## defparam/smuggler's desync probe and uNetworking/h1spec; clones both, so it needs the network,
## or SMUGGLER_DIR=<a checkout> H1SPEC_DIR=<a checkout>.
smuggling: release
	bench/smuggling.sh

## Check deploy/ without a container engine: systemd-analyze verify, YAML and compose structure,
## the k8s manifests against their schema, the image's command lines run here (deploy/check.sh).
deploy-check: test-deps
	$(SWIFT) build -c release --product paca $(RELEASE_FLAGS)
	deploy/check.sh

## Rolling restart of two nodes behind nginx under `paca replay` load (bench/rolling-restart.sh).
rolling-restart: test-deps
	$(SWIFT) build -c release --product paca $(RELEASE_FLAGS)
	bench/rolling-restart.sh

format:
	$(SWIFT) format --in-place --recursive Sources Tests Benchmarks/Benchmarks

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Benchmarks/Benchmarks

clean:
	rm -rf .build .paca .routes.demo.json
