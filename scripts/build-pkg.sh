#!/usr/bin/env bash
# Builds the npm package into pkg/: the bundler build at its root and the
# `web` build (for a plain <script type="module">) in pkg/web/, both shrunk
# with wasm-opt from the npm binaryen package (wasm-pack cannot download it).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PWD/node_modules/.bin:$PATH"

# Snippets of earlier builds would stay beside the new ones (wasm-pack does
# not empty them), and be published.
rm -rf pkg/snippets pkg/web/snippets

# The package's wasm is built with a pinned nightly (scripts/setup.sh
# installs it) that compiles the standard library along with the crate,
# without panic messages (a panic aborts either way: `panic = "abort"` in
# Cargo.toml, and nothing prints the message in a browser) and with `Debug`
# printing nothing (only tests print with `{:?}`). It measured 112.5 ->
# 104.8 KB gzip for the wasm. std's `optimize_for_size` feature would save
# 2 KB more, but made appendEvent 13% slower (Chromium, 1.31x plain against
# 1.15x in two 9-trial runs each): not used. The crate itself still builds
# and is tested with stable Rust; the package build's own target directory
# keeps the two builds from evicting each other.
source scripts/toolchain.sh
export RUSTUP_TOOLCHAIN="$PKG_TOOLCHAIN"
export CARGO_TARGET_DIR=target/pkg
export CARGO_UNSTABLE_BUILD_STD=std,panic_abort
export RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zfmt-debug=none -Zlocation-detail=none"
wasm-pack build --quiet --release --target bundler --out-dir pkg --out-name council_idb
wasm-pack build --quiet --release --target web --out-dir pkg/web --out-name council_idb --no-pack
rm -f pkg/web/.gitignore pkg/web/README.md

# The features Rust enables by default for wasm32-unknown-unknown.
features=(--enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext
          --enable-mutable-globals --enable-reference-types --enable-multivalue)
# --low-memory-unused lets wasm-opt fold constant offsets into loads and
# stores (-0.8 KB gzip): rustc lays out wasm32 memory stack first (the
# shadow stack grows down from 1 MiB towards 0, static data sits above it),
# so the lowest 1 KiB is touched only by a stack more than 1023 KiB deep,
# about to overflow anyway.
for wasm in pkg/council_idb_bg.wasm pkg/web/council_idb_bg.wasm; do
  wasm-opt -Oz --low-memory-unused --strip-debug --strip-producers "${features[@]}" "$wasm" -o "$wasm.opt"
  mv "$wasm.opt" "$wasm"
done

# Minify the JS glue and the snippet (esbuild comes with vite); the .d.ts
# files keep the docs, src/glue.js keeps the comments.
for js in pkg/council_idb_bg.js pkg/web/council_idb.js pkg/snippets/*/src/glue.js pkg/web/snippets/*/src/glue.js; do
  # wasm-bindgen's web glue names the snippet once per extern block in its
  # imports object (the same module each time): a harmless repeated key.
  esbuild "$js" --minify --format=esm --log-level=warning --log-override:duplicate-object-key=silent \
    --outfile="$js" --allow-overwrite
done

node scripts/finish-pkg.mjs
