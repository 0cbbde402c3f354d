#!/bin/sh
# Throughput of the SS-MIX2 (HL7 v2) and UKE converters.
# Usage: bench/convert/run.sh [HL7_MESSAGES] [UKE_COPIES]
# Builds in release and prints messages/s and lines/s, single-threaded and
# on 2 threads. Inputs are generated from the vendored samples with the
# hl7v2/uke writers (see src/main.rs); the synthetic-population generator
# will replace them when it exists.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/../../target}"
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
exec "$CARGO_TARGET_DIR/release/medtwin-bench-convert" "$here/../../crates/ingest/test_data" "${1:-20000}" "${2:-200}"
