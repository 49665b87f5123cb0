# council-idb. The README's two commands: `make demo` and `make test`.
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(CURDIR)/node_modules/.bin:$(PATH)
PORT ?= 8080

.PHONY: setup lint test test-rust test-browser test-js test-crash pkg demo bench bench-smoke clean

setup:
	@bash scripts/setup.sh

lint: setup
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --all-targets --target wasm32-unknown-unknown -- -D warnings

test-rust: setup
	cargo test

## The Rust browser tests (contract suite and IndexedDB cases), one engine
## after another: `make test-browser BROWSER=webkit` runs one alone.
BROWSER ?= chromium firefox webkit
test-browser: setup
	@bash scripts/test-browser.sh $(BROWSER)

## Every test: lint, native tests, the three browsers, the JS tests, the
## crash test, a benchmark smoke run.
test: lint test-rust test-browser test-js test-crash bench-smoke

## The npm package in pkg/: bundler build at the root, web build in pkg/web.
pkg: setup
	bash scripts/build-pkg.sh

## The JS tests (package, tabs, numbering, live feed, pruning, quota and
## persistence, the demo end to end, types, Vite build), the browser ones in
## Chromium, Firefox and WebKit one engine after another:
## `make test-js ENGINES=webkit` runs them in one (or ENGINES="chromium firefox").
ENGINES ?= chromium firefox webkit
test-js: pkg
	ENGINES="$(ENGINES)" node --test --test-concurrency=2 tests/js/

## The crash test: Chromium and Firefox killed with SIGKILL while a page
## streams writes, relaunched on the same profile; every acknowledged write
## must be there. WebKit is skipped (its automation session keeps IndexedDB
## in memory); `make test-crash ENGINES=firefox` runs one engine.
test-crash: pkg
	ENGINES="$(ENGINES)" node --test tests/crash/

demo: pkg
	node scripts/serve.mjs --port $(PORT)

bench: pkg
	node bench/run.mjs

bench-smoke: pkg
	node bench/run.mjs --smoke

clean:
	rm -rf target pkg node_modules
