# The toolchain that builds the npm package's wasm (sourced by setup.sh and
# build-pkg.sh): a dated nightly, for `-Z build-std`. Moving it is a change
# to review like any other: rebuild, run `make test` and `make bench`.
PKG_TOOLCHAIN=nightly-2026-05-20
