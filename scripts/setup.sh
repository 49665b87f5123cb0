#!/usr/bin/env bash
# Installs everything council-idb's build, tests, demo and benchmarks need, on
# a fresh Debian machine as root. Idempotent: what is present at the right
# version is skipped, so a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }
export PATH="$HOME/.cargo/bin:$PATH"

# Browsers and their drivers, from Debian.
missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v firefox-esr >/dev/null || missing+=(firefox-esr)
# WebKit: WebKitGTK's MiniBrowser and its WebDriver, on a virtual display.
command -v WebKitWebDriver >/dev/null || missing+=(webkit2gtk-driver)
command -v xvfb-run >/dev/null || missing+=(xvfb)
# A C compiler: the native tests' rusqlite builds its bundled SQLite.
command -v cc >/dev/null || missing+=(gcc libc6-dev)
if ((${#missing[@]})); then
  say "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Rust target and cargo-installed tools, each pinned.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# The pinned nightly that builds the package's wasm (scripts/build-pkg.sh),
# with the standard library's source.
source scripts/toolchain.sh
sysroot=$(rustup run "$PKG_TOOLCHAIN" rustc --print sysroot 2>/dev/null || true)
if [ -z "$sysroot" ] || [ ! -d "$sysroot/lib/rustlib/src/rust/library" ] ||
   [ ! -d "$sysroot/lib/rustlib/wasm32-unknown-unknown" ]; then
  say "rustup toolchain install $PKG_TOOLCHAIN (rust-src, wasm32)"
  rustup toolchain install "$PKG_TOOLCHAIN" --profile minimal --component rust-src \
    --target wasm32-unknown-unknown
fi

# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
installed_version() { "$1" --version 2>/dev/null | awk 'NR == 1 { print $2 }'; }
cargo_install() { # crate version binary
  if [ "$(installed_version "$3")" = "$2" ]; then return; fi
  say "cargo install $1 $2 (takes a few minutes)"
  # --locked first; if the crate's own lockfile names a yanked version, let
  # cargo resolve again rather than fail.
  cargo install --quiet --locked "$1" --version "$2" ||
    cargo install --quiet "$1" --version "$2"
}
cargo_install wasm-bindgen-cli "$bindgen_version" wasm-bindgen
cargo_install wasm-pack 0.15.1 wasm-pack
cargo_install geckodriver 0.37.1 geckodriver

# Node tooling (playwright-core, binaryen's wasm-opt, typescript, vite, dexie).
if ! command -v node >/dev/null; then
  say "apt-get install nodejs npm"
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
if [ ! -x node_modules/.bin/wasm-opt ] || [ package.json -nt node_modules/.package-lock.json ]; then
  say "npm install"
  npm install --no-audit --no-fund --loglevel=error
fi
say "ready"
