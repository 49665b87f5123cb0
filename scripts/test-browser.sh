#!/usr/bin/env bash
# Runs the Rust browser tests (tests/browser.rs: the contract suite on both
# adapters and the IndexedDB cases) in one engine: chromium, firefox or webkit.
# WebKit is WebKitGTK's MiniBrowser driven by WebKitWebDriver, which
# wasm-bindgen-test-runner drives as its "Safari" (webdriver.json names the
# binary), under a virtual display.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
engine=${1:?usage: scripts/test-browser.sh chromium|firefox|webkit}
printf '\033[1mtest-browser:\033[0m %s\n' "$engine"
case "$engine" in
  chromium) wasm-pack test --headless --chrome . --test browser ;;
  firefox) wasm-pack test --headless --firefox . --test browser ;;
  webkit)
    # MiniBrowser's first start on a fresh machine can take longer than the
    # runner's default 20 s wait.
    WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-180} \
    SAFARIDRIVER=/usr/bin/WebKitWebDriver \
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
      xvfb-run -a cargo test --target wasm32-unknown-unknown --test browser ;;
  *) echo "unknown engine $engine (chromium, firefox or webkit)" >&2; exit 2 ;;
esac
