#!/usr/bin/env bash
# Every test: formatting, lints, the Rust tests and the C suite (static and
# shared library) through cargo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

cargo fmt --all --check
cargo clippy --locked --workspace --all-targets -- -D warnings
cargo test --locked --workspace
